"""The per-record logic of the workloads, shared by every Python engine.

The Java peer (``peers/kafka-streams``) mirrors these three functions exactly.
"""

from __future__ import annotations

from typing import Any

AMOUNT_MIN = 10


def keep(value: dict[str, Any]) -> bool:
    """W1's filter: keeps about 90% of the records (``amount`` is uniform in 0..99)."""
    return bool(value["amount"] >= AMOUNT_MIN)


def enrich(value: dict[str, Any]) -> dict[str, Any]:
    """W1's map: a new, smaller JSON object."""
    return {"n": value["n"], "user": value["user"], "cents": value["amount"] * 100}


def regroup(value: dict[str, Any]) -> str:
    """W3's new key: the ``user`` field (10,000 distinct values, unrelated to the input key)."""
    return str(value["user"])
