from __future__ import annotations

from typing import Any

import pytest

from streamlet.state.cache import MISSING, CacheBudget, RecordCache


class Sink:
    def __init__(self) -> None:
        self.flushed: list[tuple[Any, Any, Any, Any]] = []

    def __call__(self, key: Any, old: Any, new: Any, record: Any) -> None:
        self.flushed.append((key, old, new, record))


def _cache(max_bytes: int = 1 << 20) -> tuple[RecordCache, Sink, CacheBudget]:
    budget = CacheBudget(max_bytes)
    sink = Sink()
    return RecordCache("t", budget, sink), sink, budget


def test_flush_forwards_newest_value_with_old_as_of_last_flush() -> None:
    cache, sink, _ = _cache()
    cache.put("a", None, 1, "r1")
    cache.put("a", 1, 2, "r2")
    cache.put("b", 7, 8, "r3")
    assert sink.flushed == [] and cache.dirty
    cache.flush()
    assert sink.flushed == [("a", None, 2, "r2"), ("b", 7, 8, "r3")]
    assert not cache.dirty
    cache.put("a", 2, 3, "r4")
    cache.flush()
    assert sink.flushed[-1] == ("a", 2, 3, "r4")


def test_get_serves_newest_value_and_missing_for_unknown_key() -> None:
    cache, _, _ = _cache()
    assert cache.get("a") is MISSING
    cache.put("a", None, 1, "r")
    cache.flush()
    assert cache.get("a") == 1  # clean entries stay for reads
    cache.put("a", 1, None, "r")
    assert cache.get("a") is None


def test_flush_without_updates_forwards_nothing() -> None:
    cache, sink, _ = _cache()
    cache.put("a", None, 1, "r")
    cache.flush()
    cache.flush()
    assert len(sink.flushed) == 1


def test_full_budget_evicts_least_recently_used_forwarding_dirty() -> None:
    cache, sink, budget = _cache()
    cache.put("a", None, 1, "ra")
    one = budget.used
    budget.max_bytes = one * 2
    cache.put("b", None, 1, "rb")
    cache.put("a", 1, 2, "ra2")  # "a" is now the most recently used
    cache.put("c", None, 1, "rc")
    assert sink.flushed == [("b", None, 1, "rb")]
    assert budget.used <= budget.max_bytes
    assert cache.get("b") is MISSING and cache.get("a") == 2


def test_evicting_clean_entry_forwards_nothing() -> None:
    cache, sink, budget = _cache()
    cache.put("a", None, 1, "ra")
    cache.flush()
    budget.max_bytes = budget.used
    cache.put("b", None, 1, "rb")
    assert sink.flushed == [("a", None, 1, "ra")]  # only the flush
    assert cache.get("a") is MISSING


def test_discard_drops_dirty_entries_and_returns_budget() -> None:
    cache, sink, budget = _cache()
    cache.put("a", None, 1, "r")
    cache.discard()
    assert budget.used == 0 and not cache.dirty and cache.get("a") is MISSING
    cache.flush()
    assert sink.flushed == []


def test_budget_is_shared_and_rejects_negative_size() -> None:
    budget = CacheBudget(1 << 20)
    one, two = RecordCache("1", budget, Sink()), RecordCache("2", budget, Sink())
    one.put("a", None, 1, "r")
    used = budget.used
    two.put("a", None, 1, "r")
    assert budget.used == 2 * used
    with pytest.raises(ValueError):
        CacheBudget(-1)
