"""``GlobalStore``: records of a global topic applied to a bytes store, by policy."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from streamlet import serde
from streamlet.config import ErrorPolicies, ErrorPolicy
from streamlet.runtime.global_store import GlobalStore
from streamlet.state import MemoryStore
from streamlet.testing.message import Message
from streamlet.topology.global_nodes import GlobalTableSpec

SPEC = GlobalTableSpec("users", "users-topic", serde.String(), serde.Json())


def _store(policy: ErrorPolicy, dead: list[Any]) -> GlobalStore:
    return GlobalStore(
        SPEC,
        MemoryStore("users"),
        ErrorPolicies(deserialization=policy),
        "dlq",
        lambda *args: dead.append(args),
        lambda: 5,
    )


def _msg(offset: int, key: bytes | None, value: bytes | None) -> Message:
    return Message("users-topic", 1, offset, key, value, 0, ())


def test_apply_keeps_the_last_value_per_key_and_tombstones_delete() -> None:
    store = _store(ErrorPolicy.FAIL, [])
    store.apply([_msg(0, b"a", b"1"), _msg(1, b"b", b"2"), _msg(2, b"a", b"3")])
    store.apply([_msg(3, b"b", None)])
    assert dict(store.view.all()) == {"a": 3}


def test_apply_with_continue_skips_bad_records_and_null_keys(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = _store(ErrorPolicy.CONTINUE, [])
    with caplog.at_level(logging.WARNING):
        store.apply([_msg(0, b"a", b"{bad"), _msg(1, None, b"1"), _msg(2, b"b", b"2")])
    assert dict(store.view.all()) == {"b": 2}
    assert (store.skipped, store.null_keys) == (1, 1)
    assert "topic=users-topic partition=1 offset=0" in caplog.text
    assert "null key [topic=users-topic partition=1 offset=1]" in caplog.text


def test_apply_with_dead_letter_copies_the_bad_record_with_its_location() -> None:
    dead: list[Any] = []
    store = _store(ErrorPolicy.DEAD_LETTER, dead)
    store.apply([_msg(7, b"a", b"{bad")])
    ((topic, key, value, partition, timestamp, headers),) = dead
    assert (topic, key, value, partition, timestamp) == ("dlq", b"a", b"{bad", -1, 5)
    assert dict(headers)["streamlet.source.offset"] == b"7"
    assert dict(headers)["streamlet.processor"] == b"users-global-source"
