"""``serde.Windowed`` / ``serde.SessionWindowed``: Kafka Streams' byte layouts."""

from __future__ import annotations

import struct

import pytest

import streamlet as sl
from streamlet import serde


def test_windowed_writes_key_then_big_endian_start() -> None:
    data = serde.Windowed(serde.String()).serialize("t", sl.Windowed("ab", 60_000, 120_000))
    assert data == b"ab" + struct.pack(">q", 60_000)


def test_windowed_reads_back_with_the_window_size() -> None:
    s = serde.Windowed(serde.String(), window_size_ms=60_000)
    key = sl.Windowed("ab", 60_000, 120_000)
    assert s.deserialize("t", s.serialize("t", key)) == key


def test_windowed_read_without_size_is_a_serialization_error() -> None:
    with pytest.raises(sl.SerializationError, match="window_size_ms"):
        serde.Windowed(serde.String()).deserialize("t", b"ab" + bytes(8))


def test_session_windowed_writes_key_end_start() -> None:
    s = serde.SessionWindowed(serde.String())
    key = sl.Windowed("ab", 5, 9)
    data = s.serialize("t", key)
    assert data == b"ab" + struct.pack(">qq", 9, 5)
    assert s.deserialize("t", data) == key


def test_plain_key_is_a_serialization_error() -> None:
    with pytest.raises(sl.SerializationError, match=r"sl\.Windowed"):
        serde.Windowed(serde.String()).serialize("t", "ab")  # type: ignore[arg-type]
