"""Schema tooling: Avro compatibility levels and checks (``streamlet schema check``)."""

from streamlet.schema.compatibility import (
    CompatibilityResult,
    Direction,
    InvalidSchemaError,
    Level,
    Problem,
    SchemaCompatibilityError,
    check,
    parse_schema,
)

__all__ = [
    "CompatibilityResult",
    "Direction",
    "InvalidSchemaError",
    "Level",
    "Problem",
    "SchemaCompatibilityError",
    "check",
    "parse_schema",
]
