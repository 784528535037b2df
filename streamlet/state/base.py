"""The contract every bytes-level store backend implements.

A backend maps ``bytes`` keys to ``bytes`` values, ordered bytewise. It knows nothing about
Kafka: the changelog offset it records is an opaque integer supplied by the layer above, and
it is written in the same atomic batch as the data it describes. That pairing is what lets
restoration resume from the recorded offset instead of wiping state after a crash.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol


class BytesStore(Protocol):
    """A bytes-to-bytes store with ordered iteration and atomic batches.

    Contract shared by every method:

    - Keys and values are ``bytes``; the empty byte string is a valid key and a valid value.
    - Iteration is in ascending bytewise order of keys, and is a snapshot taken when the
      method is called: writes made while the iterator is consumed are not seen by it.
    - After ``close()`` every other method raises ``StateError``; ``close()`` is idempotent.
    - Backend failures surface as ``StateError``.
    """

    @property
    def name(self) -> str:
        """The store's name (the same for every partition of one logical store)."""
        ...

    def get(self, key: bytes) -> bytes | None:
        """The value stored under ``key``, or ``None`` when there is none."""
        ...

    def range(
        self, start: bytes | None = None, end: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """``(key, value)`` pairs with ``start <= key < end``, ascending.

        ``None`` leaves that side unbounded; ``start >= end`` yields nothing.
        """
        ...

    def prefix(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """``(key, value)`` pairs whose key starts with ``prefix``, ascending."""
        ...

    def approximate_count(self) -> int:
        """An estimate of the number of keys (exact for in-memory backends); never negative."""
        ...

    def write_batch(
        self, writes: Mapping[bytes, bytes | None], changelog_offset: int | None
    ) -> None:
        """Apply ``writes`` and record ``changelog_offset``, atomically.

        A ``bytes`` value puts, ``None`` deletes. When ``changelog_offset`` is not ``None`` it
        becomes the value ``changelog_offset()`` returns, in the same atomic batch: after a
        crash the store reflects either the whole batch, offset included, or none of it.
        ``None`` leaves the recorded offset unchanged.
        """
        ...

    def changelog_offset(self) -> int | None:
        """The offset recorded by the last batch that carried one; ``None`` if none ever did."""
        ...

    def close(self) -> None:
        """Release the store's resources, persisting what durable backends hold in memory."""
        ...


def prefix_end(prefix: bytes) -> bytes | None:
    """The smallest key greater than every key starting with ``prefix``; ``None`` if unbounded.

    ``prefix(p)`` is ``range(p, prefix_end(p))``: trailing ``0xff`` bytes are dropped and the
    last remaining byte incremented; a prefix of only ``0xff`` bytes (or empty) has no end.
    """
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes((stripped[-1] + 1,))
