"""Serializers/deserializers: ``Bytes``, ``String``, ``Int64``, ``Float64``, ``Json``."""

from streamlet.serde._base import Bytes, Float64, Int64, Json, Serde, String

__all__ = ["Bytes", "Float64", "Int64", "Json", "Serde", "String"]
