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
