"""``streamlet.topology`` is inert: importing it loads neither confluent_kafka nor rocksdict.

Each import runs in a fresh interpreter, since this test process has long since loaded both.
The interpreters start together, once per module of this file, to keep the test fast.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

_HEAVY = ("confluent_kafka", "rocksdict")
_MODULES = (
    "streamlet.topology",
    "streamlet.topology.stream",
    "streamlet.topology.builder",
    "streamlet.topology.topology",
    "streamlet.topology.nodes",
    "streamlet.topology.render",
)
_PROBE = """
import json, sys
import {module}
heavy = {heavy!r}
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
"""


@pytest.fixture(scope="module")
def probes() -> dict[str, tuple[int, str, str]]:
    """``module -> (returncode, stdout, stderr)`` of a fresh interpreter importing it."""
    running = {
        module: subprocess.Popen(
            [sys.executable, "-c", _PROBE.format(module=module, heavy=_HEAVY)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for module in _MODULES
    }
    results = {}
    for module, proc in running.items():
        out, err = proc.communicate(timeout=60)
        results[module] = (proc.returncode, out, err)
    return results


@pytest.mark.parametrize("module", _MODULES)
def test_import_leaves_kafka_and_rocksdb_unloaded(
    module: str, probes: dict[str, tuple[int, str, str]]
) -> None:
    returncode, out, err = probes[module]

    assert returncode == 0, err
    loaded = json.loads(out)
    assert loaded == [], (
        f"importing {module} loaded {loaded}; "
        f"find the chain with: python -X importtime -c 'import {module}'"
    )
