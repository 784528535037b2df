"""``serde.Int32`` and ``serde.UUID``: Kafka's IntegerSerializer and UUIDSerializer formats."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamlet import serde
from streamlet.errors import SerializationError


@given(st.integers(min_value=-(2**31), max_value=2**31 - 1))
def test_int32_round_trips_every_32_bit_integer(value: int) -> None:
    s = serde.Int32()
    data = s.serialize("t", value)
    assert data is not None and len(data) == 4
    assert s.deserialize("t", data) == value


def test_int32_writes_big_endian_twos_complement() -> None:
    s = serde.Int32()
    assert s.serialize("t", 1) == b"\x00\x00\x00\x01"
    assert s.serialize("t", -1) == b"\xff\xff\xff\xff"
    assert s.serialize("t", None) is None


def test_int32_rejects_values_outside_32_bits_naming_the_topic() -> None:
    with pytest.raises(SerializationError, match="32 bits") as info:
        serde.Int32().serialize("counts", 2**31)
    assert info.value.topic == "counts"
    with pytest.raises(SerializationError, match="4 bytes"):
        serde.Int32().deserialize("counts", b"\x00" * 8)


@given(st.uuids())
def test_uuid_round_trips_as_its_string_form(value: uuid.UUID) -> None:
    s = serde.UUID()
    data = s.serialize("t", value)
    assert data == str(value).encode()
    assert s.deserialize("t", data) == value


def test_uuid_rejects_non_uuid_input() -> None:
    with pytest.raises(SerializationError, match="UUID"):
        serde.UUID().serialize("t", "not-a-uuid")  # type: ignore[arg-type]
    with pytest.raises(SerializationError):
        serde.UUID().deserialize("t", b"garbage")
