"""The headers a dead letter carries: what failed, where the original record came from."""

from __future__ import annotations

from typing import Any


def dead_letter_headers(exc: Exception, msg: Any, processor: str) -> list[tuple[str, bytes]]:
    """Headers of the dead letter of ``msg`` (a consumed message) that failed with ``exc``
    in ``processor``; the original key and value bytes travel unchanged beside them."""
    return [
        ("streamlet.error.class", type(exc).__name__.encode()),
        ("streamlet.error.message", str(exc)[:4000].encode("utf-8", "replace")),
        ("streamlet.source.topic", msg.topic().encode()),
        ("streamlet.source.partition", str(msg.partition()).encode()),
        ("streamlet.source.offset", str(msg.offset()).encode()),
        ("streamlet.processor", processor.encode()),
        ("streamlet.timestamp", str(msg.timestamp()[1]).encode()),
    ]
