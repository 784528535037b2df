"""The README's word count (examples/wordcount.py) as a test app, for the operations tests.

Configured by the example's own environment variables (WORDCOUNT_APP_ID, WORDCOUNT_INPUT,
WORDCOUNT_OUTPUT, WORDCOUNT_STATE_DIR, KAFKA_BOOTSTRAP); loaded afresh on every call so
each test's environment applies.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import streamlet as sl

from support import WorkerProcess

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "wordcount.py"


class OpsWorker(WorkerProcess):
    module = "apps_ops"


def wordcount() -> sl.App:
    spec = importlib.util.spec_from_file_location("_wordcount_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app: sl.App = module.app
    return app
