"""Restoration against the real broker: it ends at the last stable offset only once every
record the changelog held when it began is decided, never at a record of a transaction that
is still open (issue 10, defect 5)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from streamlet.runtime.restore import RestoreTarget, restore
from streamlet.state import BufferedStore, RocksDBStore

pytestmark = pytest.mark.integration


def _restore_consumer(bootstrap: str) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"restore-{uuid.uuid4().hex}",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": 10,
        }
    )


@pytest.mark.parametrize("outcome", ["commit", "abort"])
def test_restore_waits_for_an_open_transaction_then_finishes(
    bootstrap: str, make_topics: Callable[..., str], tmp_path: Path, outcome: str
) -> None:
    changelog = make_topics("changelog", config={"cleanup.policy": "compact"})
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": changelog})
    producer.init_transactions(30)
    producer.begin_transaction()
    for i in range(3):
        producer.produce(changelog, b"committed", f"k{i}".encode(), partition=0)
    producer.commit_transaction(30)
    producer.begin_transaction()
    producer.produce(changelog, b"open", b"k-open", partition=0)  # at high watermark - 1
    assert producer.flush(30) == 0

    store = BufferedStore(RocksDBStore(tmp_path / "store", "store"))
    target = RestoreTarget("store", changelog, 0, store, lambda: store)
    consumer = _restore_consumer(bootstrap)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    ends: list[dict[tuple[str, int], int]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            ends.append(restore(consumer, admin, [target]))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while store.get(b"k2") is None:  # the committed records are restored...
        assert not errors, errors
        assert time.monotonic() < deadline, "the committed records were never restored"
        time.sleep(0.05)
    thread.join(3.0)
    assert thread.is_alive(), "restoration finished while a transaction was still open"

    if outcome == "commit":
        producer.commit_transaction(30)
    else:
        producer.abort_transaction(30)
    thread.join(30.0)
    assert not thread.is_alive() and not errors, errors
    expected = b"open" if outcome == "commit" else None
    assert store.get(b"k-open") == expected
    assert store.get(b"k0") == b"committed"
    assert store.changelog_offset() == 6  # past the marker: nothing left to replay
    consumer.close()
    store.close()
