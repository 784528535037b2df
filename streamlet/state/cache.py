"""The record cache (Kafka Streams' ``statestore.cache.max.bytes``): an aggregation's or a
table's latest value per key, held between commits so that only the newest update of each
key is forwarded downstream (its store, written through, coalesces the changelog itself).

A ``RecordCache`` belongs to one node of one task; every cache of a worker shares one
``CacheBudget``. An entry is *dirty* from its first update after a flush until the next
flush; it remembers the value as of the last flush (``old``) so that the flush forwards
``Change(old, newest)``. A cache flushes all its dirty entries when the task commits (before
the changelog records are produced, so the forwarded records join the same transaction) and
evicts its least recently used entries, flushing the dirty ones, whenever a write takes the
worker over its budget. Clean entries stay for reads until evicted. An aborted transaction
``discard()``s everything: dirty entries were never committed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Hashable
from typing import Any

# what an entry costs besides its key and value (the entry, its slot in the dict); the
# budget counts shallow Python object sizes, an estimate, not serialized bytes
_ENTRY_OVERHEAD = 120

Flush = Callable[[Any, Any, Any, Any], None]
"""``(key, old, new, record)``: forward ``Change(old, new)`` with the timestamp and headers
of ``record``, the key's latest input."""


class CacheBudget:
    """The bytes one worker's record caches may hold together."""

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"a cache budget must be >= 0 bytes, not {max_bytes}")
        self.max_bytes = max_bytes
        self.used = 0

    def __repr__(self) -> str:
        return f"CacheBudget(used={self.used}, max_bytes={self.max_bytes})"


class _Entry:
    __slots__ = ("dirty", "new", "old", "record", "size", "value_size")

    def __init__(self, old: Any, new: Any, record: Any, size: int, value_size: int) -> None:
        self.old = old
        self.new = new
        self.record = record
        self.size = size  # all it costs the budget
        self.value_size = value_size  # of which ``new``
        self.dirty = True


_MISSING: Any = object()
_getsizeof = sys.getsizeof


class RecordCache:
    """One node's cache in one task; ``flush`` forwards."""

    def __init__(self, name: str, budget: CacheBudget, flush: Flush) -> None:
        self.name = name
        self._budget = budget
        self._flush = flush
        # insertion order is recency order: a touched entry is moved to the end
        self._entries: dict[Hashable, _Entry] = {}
        # the keys with unforwarded updates, apart: a commit flushes them without walking
        # the clean entries, which are most of a warm cache
        self._dirty: dict[Hashable, None] = {}

    def __repr__(self) -> str:
        return f"RecordCache({self.name!r}, entries={len(self._entries)}, dirty={len(self._dirty)})"

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def dirty(self) -> bool:
        """Whether any entry holds an update not yet forwarded."""
        return bool(self._dirty)

    def get(self, key: Hashable) -> Any:
        """The cached newest value of ``key`` (None: deleted), or ``MISSING`` if not cached."""
        entry = self._entries.get(key)
        return _MISSING if entry is None else entry.new

    def put(self, key: Hashable, old: Any, new: Any, record: Any) -> None:
        """Record ``new`` as the newest value of ``key``; ``old`` is its value before this
        update (the cached one, or the store's when ``key`` was not cached)."""
        entries = self._entries
        entry = entries.pop(key, None)
        value_size = _getsizeof(new)
        if entry is None:
            size = _ENTRY_OVERHEAD + _getsizeof(key) + value_size
            entries[key] = _Entry(old, new, record, size, value_size)
            self._dirty[key] = None
            grown = size
        else:
            entries[key] = entry  # the most recently used, last
            if not entry.dirty:  # the first update since the last flush: remember its base
                entry.old = old
                entry.dirty = True
                self._dirty[key] = None
            entry.new = new
            entry.record = record
            grown = value_size - entry.value_size
            if not grown:  # the common case: a count or a sum of the same size
                return
            entry.size += grown
            entry.value_size = value_size
        budget = self._budget
        budget.used += grown
        if budget.used > budget.max_bytes:
            self._evict()

    def flush(self) -> None:
        """Forward every dirty entry, in the order they became dirty; they stay cached,
        clean."""
        dirty = self._dirty
        if not dirty:
            return
        self._dirty = {}
        entries = self._entries
        flush = self._flush
        for key in dirty:
            entry = entries.get(key)
            if entry is None or not entry.dirty:  # evicted (and forwarded) meanwhile
                continue
            entry.dirty = False
            flush(key, entry.old, entry.new, entry.record)
            entry.old = entry.new
            entry.record = None  # the record is forwarded; let it go

    def discard(self) -> None:
        """Drop every entry (the transaction that wrote the dirty ones aborted)."""
        self._budget.used -= sum(entry.size for entry in self._entries.values())
        self._entries = {}
        self._dirty = {}

    def _evict(self) -> None:
        """Evict least recently used entries until the worker is within its budget or this
        cache is empty, forwarding the dirty ones (as Kafka Streams' named caches do)."""
        budget = self._budget
        entries = self._entries
        while budget.used > budget.max_bytes and entries:
            key = next(iter(entries))
            entry = entries.pop(key)
            budget.used -= entry.size
            if entry.dirty:
                entry.dirty = False
                self._dirty.pop(key, None)
                self._flush(key, entry.old, entry.new, entry.record)


MISSING: Any = _MISSING
"""What ``RecordCache.get`` returns for a key it does not hold."""
