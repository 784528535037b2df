"""Serializers/deserializers: ``Bytes``, ``String``, ``Int32``, ``Int64``, ``Float64``,
``UUID``, ``Json``, and ``Avro`` (Confluent wire format with a Schema Registry)."""

from typing import Any

from streamlet.serde._base import Bytes, Float64, Int64, Json, Serde, String
from streamlet.serde._kafka import UUID, Int32
from streamlet.serde.windowed import SessionWindowed, Windowed

__all__ = [
    "UUID",
    "Avro",
    "Bytes",
    "Float64",
    "Int32",
    "Int64",
    "Json",
    "Serde",
    "SessionWindowed",
    "String",
    "SubjectNameStrategy",
    "Windowed",
]


def __getattr__(name: str) -> Any:
    # Avro pulls in the registry client; load it only for apps that use it, which keeps
    # ``streamlet.topology`` free of confluent_kafka.
    if name in ("Avro", "SubjectNameStrategy"):
        from streamlet.serde import avro

        return getattr(avro, name)
    raise AttributeError(f"module 'streamlet.serde' has no attribute {name!r}")
