"""Avro values in the Confluent Schema Registry wire format.

A message is ``0x00`` (magic byte), the writer schema's registry id as a 4-byte big-endian
integer, then the schemaless Avro body (fastavro). The writer registers (or looks up) its
schema under the subject its :class:`SubjectNameStrategy` names and caches the id; the
reader fetches the writer's schema by id (cached) and, when given a reader schema, resolves
the datum into it by the Avro specification's rules (schema evolution).

With ``compatibility=`` set, the serde checks a schema it is about to register against the
subject's existing versions itself (``streamlet.schema.compatibility``) and refuses an
incompatible one naming the offending field, even when the registry would not enforce the
level; it then sets that level on the subject.
"""

from __future__ import annotations

import io
import json
import struct
import threading
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any, Protocol

import fastavro
from confluent_kafka.schema_registry import (
    Schema,
    SchemaRegistryClient,
    SchemaRegistryError,
    ServerConfig,
)
from fastavro.read import SchemaResolutionError

from streamlet.errors import ConfigError, SerializationError, StreamletError
from streamlet.schema.compatibility import (
    InvalidSchemaError,
    Level,
    SchemaCompatibilityError,
    check,
)

_HEADER = struct.Struct(">bI")
_MAGIC = 0


class SubjectNameStrategy(Enum):
    """How the registry subject is named, as Confluent's serializers name it."""

    TOPIC = "topic"  # "<topic>-key" / "<topic>-value"
    RECORD = "record"  # "<record full name>"
    TOPIC_RECORD = "topic_record"  # "<topic>-<record full name>"

    def subject(self, topic: str, record_name: str | None, is_key: bool) -> str:
        """The subject for ``topic``; ``record_name`` is required by the record strategies."""
        if self is SubjectNameStrategy.TOPIC:
            return f"{topic}-{'key' if is_key else 'value'}"
        if record_name is None:
            raise ConfigError(f"subject strategy {self.name} needs a named (record) schema")
        return record_name if self is SubjectNameStrategy.RECORD else f"{topic}-{record_name}"


class SchemaRegistry(Protocol):
    """What the serde needs from a schema registry. Implementations must be thread-safe."""

    def register(self, subject: str, schema: str) -> int:
        """Register ``schema`` under ``subject`` (idempotent) and return its id."""
        ...

    def lookup(self, subject: str, schema: str) -> int | None:
        """The id of ``schema`` if it is registered under ``subject``, else None."""
        ...

    def schema_by_id(self, schema_id: int) -> str | None:
        """The schema text registered with ``schema_id``, or None if there is none."""
        ...

    def versions(self, subject: str) -> list[str]:
        """The schemas registered under ``subject``, oldest version first."""
        ...

    def set_compatibility(self, subject: str, level: Level) -> None:
        """Set ``subject``'s compatibility level on the registry."""
        ...


class ConfluentRegistry:
    """:class:`SchemaRegistry` over confluent_kafka's ``SchemaRegistryClient`` or its mock
    (``MockSchemaRegistryClient``, made by ``SchemaRegistryClient.new_client({"url":
    "mock://..."})``)."""

    def __init__(self, client: SchemaRegistryClient) -> None:
        self.client = client

    def register(self, subject: str, schema: str) -> int:
        return self.client.register_schema(subject, _avro(schema))

    def lookup(self, subject: str, schema: str) -> int | None:
        try:
            return self.client.lookup_schema(subject, _avro(schema)).schema_id
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                return None
            raise

    def schema_by_id(self, schema_id: int) -> str | None:
        try:
            return self.client.get_schema(schema_id).schema_str
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                return None
            raise

    def versions(self, subject: str) -> list[str]:
        try:
            numbers = sorted(self.client.get_versions(subject))
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                return []
            raise
        registered = [self.client.get_version(subject, n).schema for n in numbers]
        return [s.schema_str for s in registered if s is not None and s.schema_str is not None]

    def set_compatibility(self, subject: str, level: Level) -> None:
        self.client.set_config(subject, ServerConfig.from_dict({"compatibility": level.value}))


def registry_of(
    registry: str | Mapping[str, Any] | SchemaRegistryClient | SchemaRegistry,
) -> SchemaRegistry:
    """The :class:`SchemaRegistry` for a URL, a client configuration dict, a client, or a
    :class:`SchemaRegistry` (returned as it is). ``ConfigError`` when the URL or the
    configuration is unusable; no request is made here."""
    if isinstance(registry, SchemaRegistryClient):
        return ConfluentRegistry(registry)
    if isinstance(registry, str | Mapping):
        conf = {"url": registry} if isinstance(registry, str) else dict(registry)
        url = conf.get("url")
        if not isinstance(url, str) or not url.strip():
            raise ConfigError(f"schema registry configuration needs a 'url', got {conf!r}")
        scheme = url.split("://", 1)[0] if "://" in url else ""
        if scheme not in ("http", "https", "mock"):
            raise ConfigError(
                f"schema registry url {url!r} must start with http://, https:// (or mock:// "
                "for tests)"
            )
        try:
            return ConfluentRegistry(SchemaRegistryClient.new_client(conf))
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"schema registry configuration is invalid: {exc}") from exc
    return registry


def _avro(text: str) -> Schema:
    return Schema.from_dict({"schema": text, "schemaType": "AVRO"})


class Avro:
    """Avro serde on a schema registry; thread-safe, ids and parsed schemas cached.

    ``schema`` (JSON text, or its parsed dict/list) is what ``serialize`` writes and what
    ``deserialize`` resolves into; without it the serde only reads, returning the datum as
    the writer's schema has it. ``registry`` is the registry's Confluent-API base URL
    (``"http://127.0.0.1:8081"``; Apicurio serves it at ``http://host:port/apis/ccompat/v7``), a ``SchemaRegistryClient`` configuration dict (``{"url": ...,
    "basic.auth.user.info": ...}``), a ``SchemaRegistryClient`` (real or mock) or any
    :class:`SchemaRegistry`. ``is_key`` picks the ``-key`` subject of the topic strategy.
    ``compatibility`` makes the serde check, refuse and set that level when it registers;
    ``auto_register=False`` only looks the schema up. None maps to None; every failure of
    ``serialize``/``deserialize`` is a ``SerializationError`` naming the topic.
    A schema that is not Avro raises ``InvalidSchemaError`` and a record subject strategy
    without a named schema ``ConfigError``, both here in the constructor.
    """

    def __init__(
        self,
        schema: str | Mapping[str, Any] | Sequence[Any] | None = None,
        *,
        registry: str | Mapping[str, Any] | SchemaRegistryClient | SchemaRegistry,
        is_key: bool = False,
        subject_strategy: SubjectNameStrategy = SubjectNameStrategy.TOPIC,
        compatibility: Level | None = None,
        auto_register: bool = True,
    ) -> None:
        self._registry = registry_of(registry)
        self._is_key, self._strategy = is_key, subject_strategy
        self._compatibility, self._auto_register = compatibility, auto_register
        self._text: str | None = None
        self._parsed: Any = None
        self._record_name: str | None = None
        if schema is not None:
            obj = _schema_json(schema)
            try:
                self._parsed = fastavro.parse_schema(obj)
            except Exception as exc:
                raise InvalidSchemaError(f"Avro schema is invalid: {exc}") from exc
            self._text = json.dumps(obj, separators=(",", ":"))
            if isinstance(self._parsed, dict) and "name" in self._parsed:
                self._record_name = str(self._parsed["name"])
            self.subject("")  # a record strategy without a named schema is a ConfigError
        self._ids: dict[str, int] = {}
        self._id_of_topic: dict[str, int] = {}  # serialize's lock-free fast path
        self._writers: dict[int, Any] = {}
        self._lock = threading.Lock()

    def subject(self, topic: str) -> str:
        """The registry subject this serde's schema lives under for ``topic``."""
        return self._strategy.subject(topic, self._record_name, self._is_key)

    def register(self, topic: str) -> int:
        """The id of this serde's schema for ``topic``, registering it if needed (cached).

        A schema already registered under the subject is used as it is. Otherwise, with
        ``compatibility`` set, it is checked against the subject's versions (the latest,
        or all for a transitive level), the level is set on the subject, and only then is
        the schema registered. Call it at startup to fail fast; ``serialize`` calls it on
        first use of a topic. Raises :class:`SchemaCompatibilityError` when the schema breaks
        the configured level, ``SerializationError`` when the registry fails or
        (``auto_register=False``) does not have the schema.
        """
        if self._text is None:
            raise SerializationError("this Avro serde has no schema to write with", topic=topic)
        subject = self.subject(topic)
        with self._lock:
            if subject in self._ids:
                return self._ids[subject]
            try:
                schema_id = self._registry.lookup(subject, self._text)
                if schema_id is None:
                    schema_id = self._register_new(subject, self._text, topic)
            except StreamletError:
                raise
            except Exception as exc:  # the client's HTTP and registry errors
                raise SerializationError(
                    f"schema registry failed for subject {subject!r}: {exc}", topic=topic
                ) from exc
            self._ids[subject] = schema_id
            return schema_id

    def _register_new(self, subject: str, text: str, topic: str) -> int:
        if not self._auto_register:
            raise SerializationError(
                f"schema is not registered under subject {subject!r} and auto_register is off",
                topic=topic,
            )
        if self._compatibility is not None:
            result = check(text, self._registry.versions(subject), self._compatibility)
            if not result.compatible:
                raise SchemaCompatibilityError(
                    f"refusing to register under subject {subject!r}: {result.describe()}",
                    result,
                    topic=topic,
                )
            self._registry.set_compatibility(subject, self._compatibility)
        return self._registry.register(subject, text)

    def serialize(self, topic: str, value: Any) -> bytes | None:
        """``value`` in the wire format; None for None; ``SerializationError`` on failure."""
        if value is None:
            return None
        schema_id = self._id_of_topic.get(topic)
        if schema_id is None:
            try:
                schema_id = self._id_of_topic[topic] = self.register(topic)
            except SerializationError:
                raise
            except StreamletError as exc:  # refused as incompatible, or an invalid schema
                raise SerializationError(exc.message, topic=topic) from exc
        out = io.BytesIO()
        out.write(_HEADER.pack(_MAGIC, schema_id))
        try:
            fastavro.schemaless_writer(out, self._parsed, value)
        except Exception as exc:
            raise SerializationError(
                f"value does not match Avro schema id {schema_id}: {exc}", topic=topic
            ) from exc
        return out.getvalue()

    def deserialize(self, topic: str, data: bytes | None) -> Any:
        """The datum in ``data``, resolved into the reader schema when there is one."""
        if data is None:
            return None
        if len(data) < _HEADER.size:
            raise SerializationError(
                f"{len(data)} bytes is too short for the Confluent wire format "
                "(magic byte, 4-byte schema id, Avro body)",
                topic=topic,
            )
        magic, schema_id = _HEADER.unpack_from(data)
        if magic != _MAGIC:
            raise SerializationError(
                f"unknown magic byte {magic & 0xFF:#04x}; the Confluent wire format starts 0x00",
                topic=topic,
            )
        writer = self._writer_schema(schema_id, topic)
        body = io.BytesIO(data)
        body.seek(_HEADER.size)
        try:
            value = fastavro.schemaless_reader(body, writer, self._parsed)
        except SchemaResolutionError as exc:
            raise SerializationError(
                f"writer schema id {schema_id} cannot be resolved into the reader schema: {exc}",
                topic=topic,
            ) from exc
        except Exception as exc:
            raise SerializationError(
                f"Avro body written with schema id {schema_id} is truncated or corrupt: "
                f"{type(exc).__name__}: {exc}",
                topic=topic,
            ) from exc
        if body.tell() != len(data):
            raise SerializationError(
                f"{len(data) - body.tell()} unread bytes after the Avro body "
                f"written with schema id {schema_id}",
                topic=topic,
            )
        return value

    def _writer_schema(self, schema_id: int, topic: str) -> Any:
        if schema_id in self._writers:
            return self._writers[schema_id]
        try:
            text = self._registry.schema_by_id(schema_id)
        except Exception as exc:  # the client's HTTP and registry errors
            raise SerializationError(
                f"schema registry failed to return schema id {schema_id}: {exc}", topic=topic
            ) from exc
        if text is None:
            raise SerializationError(
                f"unknown schema id {schema_id}: the registry has no such schema", topic=topic
            )
        try:
            parsed = fastavro.parse_schema(json.loads(text))
        except Exception as exc:
            raise SerializationError(
                f"schema id {schema_id} from the registry is not valid Avro: {exc}", topic=topic
            ) from exc
        self._writers[schema_id] = parsed
        return parsed

    def __repr__(self) -> str:
        name = self._record_name or ("reader-only" if self._text is None else "unnamed")
        return f"Avro({name!r}, subject_strategy={self._strategy.name})"


def _schema_json(schema: str | Mapping[str, Any] | Sequence[Any]) -> Any:
    """Parsed schema JSON; a bare primitive name such as ``string`` is accepted as text."""
    if not isinstance(schema, str):
        return schema
    try:
        return json.loads(schema)
    except json.JSONDecodeError:
        return schema
