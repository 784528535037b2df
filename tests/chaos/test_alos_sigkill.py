"""At-least-once after SIGKILLs: nothing is lost; duplicates are allowed and counted."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from support import by_partition, read_all
from test_eos_sigkill import run_with_kills

pytestmark = pytest.mark.chaos


def test_sigkill_under_at_least_once_loses_nothing(
    bootstrap: str,
    make_topics: Callable[..., str],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    src, out, _app_id, sent, workers = run_with_kills(
        bootstrap, make_topics, unique, tmp_path, "at_least_once", kills=5
    )
    final = workers[-1]
    inputs = by_partition(read_all(bootstrap, src, expect=sent))
    expected = {p: [json.loads(m.value or b"")["seq"] for m in ms] for p, ms in inputs.items()}
    want = {seq for seqs in expected.values() for seq in seqs}
    seen: Counter[int] = Counter()
    for _ in range(60):
        outputs = read_all(bootstrap, out, idle=1.0)
        seen = Counter(json.loads(m.value or b"")["seq"] for m in outputs)
        if want <= set(seen):
            break
    assert final.terminate() == 0, final.output()
    missing = want - set(seen)
    duplicates = sum(seen.values()) - len(seen)
    print(
        f"\n{len(workers) - 1} SIGKILLs; {sent} inputs; {sum(seen.values())} outputs; "
        f"{duplicates} duplicates; {len(missing)} missing"
    )
    assert not missing, f"lost {len(missing)} records, e.g. {sorted(missing)[:10]}"
    assert set(seen) == want, "output has records that no input explains"
    got = by_partition(outputs)
    for partition, seqs in expected.items():  # replays restart from a committed offset
        firsts = list(dict.fromkeys(json.loads(m.value or b"")["seq"] for m in got[partition]))
        assert firsts == seqs, f"partition {partition}: first occurrences out of input order"
