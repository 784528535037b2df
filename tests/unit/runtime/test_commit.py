"""The committer's translations: a KafkaException from ``begin_transaction`` becomes the
TransactionError (or ProducerFencedError) the loop acts on, naming the step and the code."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from streamlet.config import AppConfig
from streamlet.errors import ProducerFencedError, TransactionError
from streamlet.runtime import commit


class _Producer:
    """The producer calls the committer makes before a transaction's first record."""

    error: KafkaError | None = None

    def __init__(self, conf: dict[str, Any]) -> None:
        self.conf = conf

    def init_transactions(self, timeout: float) -> None:
        pass

    def begin_transaction(self) -> None:
        if self.error is not None:
            raise KafkaException(self.error)


def _committer(monkeypatch: pytest.MonkeyPatch, error: KafkaError) -> commit.Committer:
    monkeypatch.setattr(commit, "Producer", _Producer)
    monkeypatch.setattr(_Producer, "error", error)
    return commit.Committer(AppConfig("shop"), "shop-uuid-0", admin=None)  # type: ignore[arg-type]


def test_begin_when_fenced_raises_producer_fenced(monkeypatch: pytest.MonkeyPatch) -> None:
    committer = _committer(monkeypatch, KafkaError(KafkaError._FENCED, "fenced", fatal=True))

    with pytest.raises(ProducerFencedError) as caught:
        committer.begin()

    assert caught.value.fatal
    assert "begin_transaction failed" in str(caught.value) and "_FENCED" in str(caught.value)
    assert not committer.in_transaction


def test_begin_when_fatal_raises_fatal_transaction_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    err = KafkaError(KafkaError._INCONSISTENT, "producer state", fatal=True)
    committer = _committer(monkeypatch, err)

    with pytest.raises(TransactionError) as caught:
        committer.begin()

    assert type(caught.value) is TransactionError and caught.value.fatal  # re-create it
    assert "begin_transaction failed" in str(caught.value) and "producer state" in str(caught.value)


def test_begin_when_abortable_raises_non_fatal_transaction_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    err = KafkaError(KafkaError._STATE, "wrong state", txn_requires_abort=True)
    committer = _committer(monkeypatch, err)

    with pytest.raises(TransactionError) as caught:
        committer.begin()

    assert type(caught.value) is TransactionError and not caught.value.fatal
    assert "abortable=True" in str(caught.value)


class _TxnProducer(_Producer):
    """Records the transaction calls; ``send_error`` fails send_offsets_to_transaction."""

    send_error: KafkaError | None = None

    def __init__(self, conf: dict[str, Any]) -> None:
        super().__init__(conf)
        self.calls: list[str] = []

    def begin_transaction(self) -> None:
        self.calls.append("begin")

    def send_offsets_to_transaction(self, offsets: Any, group: Any, timeout: float) -> None:
        self.calls.append(f"send_offsets {[(tp.topic, tp.partition, tp.offset) for tp in offsets]}")
        if self.send_error is not None:
            raise KafkaException(self.send_error)

    def commit_transaction(self, timeout: float) -> None:
        self.calls.append("commit")

    def abort_transaction(self, timeout: float) -> None:
        self.calls.append("abort")


class _Positions:
    def harvest(self, wait: bool = False) -> None:
        pass

    def refresh(self, tps: Any) -> None:
        pass

    def get(self, topic: str, partition: int) -> int:
        return 42


class _Buffered:
    def __init__(self) -> None:
        self.flushed: list[int] = []

    def flush(self, offset: int) -> None:
        self.flushed.append(offset)


class _Store:
    def __init__(self) -> None:
        self.spec = type("Spec", (), {"changelog": "shop-counts-changelog"})()
        self.buffered = _Buffered()


class _Task:
    partition = 3

    def __init__(self) -> None:
        self.offsets = {"orders": 17}
        self.stores = {"counts": _Store()}


class _Consumer:
    def consumer_group_metadata(self) -> str:
        return "group-metadata"


def _idle_close(
    monkeypatch: pytest.MonkeyPatch, send_error: KafkaError | None
) -> tuple[_TxnProducer, _Task]:
    monkeypatch.setattr(commit, "Producer", _TxnProducer)
    monkeypatch.setattr(_TxnProducer, "send_error", send_error)
    committer = commit.Committer(AppConfig("shop"), "shop-uuid-0", admin=None)  # type: ignore[arg-type]
    committer.positions = _Positions()  # type: ignore[assignment]
    task = _Task()
    committer.settle_offsets([task], _Consumer())  # type: ignore[list-item]
    producer = committer._producer
    assert isinstance(producer, _TxnProducer)
    return producer, task


def test_settle_after_an_idle_close_has_the_broker_check_ownership_then_records_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    producer, task = _idle_close(monkeypatch, None)

    # no commit sent offsets just before: the same offsets again, in a transaction of their own
    assert producer.calls == ["begin", "send_offsets [('orders', 3, 17)]", "commit"]
    assert task.stores["counts"].buffered.flushed == [42]  # the exact end is recorded


def test_settle_when_the_ownership_check_fails_records_no_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    err = KafkaError(KafkaError.UNKNOWN_MEMBER_ID, "member gone", txn_requires_abort=True)
    producer, task = _idle_close(monkeypatch, err)

    assert producer.calls[-1] == "abort"
    # dropped from the group: the changelog's end may hold a new owner's records
    assert task.stores["counts"].buffered.flushed == []
