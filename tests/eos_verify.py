"""The verification of Kafka Streams' EOS system test, for the ``stateful`` app of apps.py
(echo; running sum and min per key; count per bucket through a repartition topic)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from streamlet.kafka.admin import Admin

from support import Msg, assert_no_open_transactions, by_partition, read_all

OUTPUTS = ("echo", "sums", "mins", "counts")


def _i64(b: bytes | None) -> int:
    return int.from_bytes(b or b"", "big", signed=True)


@dataclass(frozen=True)
class Verdict:
    records: int
    aborted: int  # output records written by transactions that were aborted


def verify_stateful(
    bootstrap: str, app_id: str, src: str, out: str, sent: int, internal: tuple[str, ...] = ()
) -> Verdict:
    """Assert exactly-once after the run; returns the aborted output records (kills that
    landed inside open transactions leave them behind)."""
    got = {t: read_all(bootstrap, f"{out}-{t}", expect=sent, timeout=180) for t in OUTPUTS}
    for topic in (*(f"{out}-{t}" for t in OUTPUTS), *internal):
        assert_no_open_transactions(bootstrap, topic)
    inputs = by_partition(read_all(bootstrap, src, expect=sent))
    assert sum(len(ms) for ms in inputs.values()) == sent, "input records are missing"
    committed = Admin(bootstrap).committed_offsets(app_id, src)
    assert committed == {p: len(ms) for p, ms in inputs.items()}, "the cut is not all input"
    _check_echo(inputs, got["echo"])
    per_key = _per_key(inputs)
    _check_folds(per_key, got["sums"], got["mins"])
    _check_counts(per_key, got["counts"])
    seen = read_all(bootstrap, f"{out}-sums", expect=sent, timeout=60, committed=False)
    return Verdict(sent, len(seen) - len(got["sums"]))


def _check_echo(inputs: dict[int, list[Msg]], echo: list[Msg]) -> None:
    got = by_partition(echo)
    for p, ms in inputs.items():
        assert [json.loads(m.value or b"") for m in got.get(p, [])] == [
            json.loads(m.value or b"") for m in ms
        ], f"echo partition {p}: duplicated, lost or reordered"


def _per_key(inputs: dict[int, list[Msg]]) -> dict[bytes | None, list[int]]:
    per_key: dict[bytes | None, list[int]] = {}
    for p in sorted(inputs):
        for m in inputs[p]:
            per_key.setdefault(m.key, []).append(json.loads(m.value or b"")["value"])
    return per_key


def _check_folds(per_key: dict[bytes | None, list[int]], sums: list[Msg], mins: list[Msg]) -> None:
    for name, aggregates, fold in (("sums", sums, lambda a, v: a + v), ("mins", mins, min)):
        seen: dict[bytes | None, list[int]] = {}
        for m in sorted(aggregates, key=lambda m: (m.partition, m.offset)):
            seen.setdefault(m.key, []).append(_i64(m.value))
        assert set(seen) == set(per_key), f"{name}: keys differ"
        for key, values in per_key.items():
            running: int | None = None
            expected = []
            for v in values:
                running = v if running is None else fold(running, v)
                expected.append(running)
            assert seen[key] == expected, f"{name} of {key!r}: not the fold of its inputs"


def _check_counts(per_key: dict[bytes | None, list[int]], counts: list[Msg]) -> None:
    buckets: dict[bytes | None, list[int]] = {}
    for m in sorted(counts, key=lambda m: (m.partition, m.offset)):
        buckets.setdefault(m.key, []).append(_i64(m.value))
    want: dict[str, int] = {}
    for values in per_key.values():
        for v in values:
            want[f"b{v % 17}"] = want.get(f"b{v % 17}", 0) + 1
    assert {k.decode(): len(v) for k, v in buckets.items() if k} == want, "counts lost or doubled"
    for key, series in buckets.items():
        assert series == list(range(1, len(series) + 1)), f"count of bucket {key!r}"
