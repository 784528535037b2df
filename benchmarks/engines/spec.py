"""What one engine instance runs, handed from the harness through environment variables.

Environment variables work the same for the Python engines, the streamlet CLI's zero-argument
factories and the Java peer, so there is one encoding: ``BENCH_<FIELD>=<value>``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

WORKLOADS = ("w1", "w2", "w3", "w4", "w4u", "w5")
WINDOWED = ("w4", "w4u")  # w4: emit on window close; w4u: emit on every update
GUARANTEES = ("exactly_once", "at_least_once")
STORE_NAME = "counts"
WINDOW_MS = 60_000  # W4: 1-minute tumbling windows ...
GRACE_MS = 5_000  # ... with 5 s of grace, the same on every engine
REPARTITION_NAME = "by-user"
REGION_REPARTITION_NAME = "by-region"  # W5: the count by region re-keys through it
USERS_STORE_NAME = "users"  # W5: the users table's store
_PREFIX = "BENCH_"


@dataclass(frozen=True)
class EngineSpec:
    """One workload under one guarantee, on topics and an application id of its own."""

    workload: str
    guarantee: str
    bootstrap: str
    app_id: str
    input_topic: str
    output_topic: str
    commit_interval_ms: int
    state_dir: str
    marker_path: str
    table_topic: str = ""  # W5: the users table ("" for the other workloads)

    def __post_init__(self) -> None:
        if self.workload not in WORKLOADS:
            raise ValueError(f"workload must be one of {WORKLOADS}, got {self.workload!r}")
        if self.guarantee not in GUARANTEES:
            raise ValueError(f"guarantee must be one of {GUARANTEES}, got {self.guarantee!r}")
        if self.commit_interval_ms <= 0:
            raise ValueError("commit_interval_ms must be positive")

    @property
    def exactly_once(self) -> bool:
        return self.guarantee == "exactly_once"

    @property
    def windowed(self) -> bool:
        return self.workload in WINDOWED

    @property
    def emit_on_close(self) -> bool:
        return self.workload == "w4"

    @property
    def changelog_topic(self) -> str:
        """The ceiling's changelog, named the way Kafka Streams names its own."""
        return f"{self.app_id}-{STORE_NAME}-changelog"

    @property
    def repartition_topic(self) -> str:
        """The ceiling's repartition topic for W3, named the way Kafka Streams names its own."""
        return f"{self.app_id}-{REPARTITION_NAME}-repartition"

    def to_env(self) -> dict[str, str]:
        return {_PREFIX + f.name.upper(): str(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> EngineSpec:
        source = os.environ if env is None else env
        missing = [f.name for f in fields(cls) if _PREFIX + f.name.upper() not in source]
        if missing:
            names = ", ".join(_PREFIX + name.upper() for name in missing)
            raise SystemExit(f"benchmark engine: missing environment variables {names}")
        values = {f.name: source[_PREFIX + f.name.upper()] for f in fields(cls)}
        return cls(
            workload=values["workload"],
            guarantee=values["guarantee"],
            bootstrap=values["bootstrap"],
            app_id=values["app_id"],
            input_topic=values["input_topic"],
            output_topic=values["output_topic"],
            commit_interval_ms=int(values["commit_interval_ms"]),
            state_dir=values["state_dir"],
            marker_path=values["marker_path"],
            table_topic=values["table_topic"],
        )
