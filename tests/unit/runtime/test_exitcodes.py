"""Exit statuses: a restart cures transaction and state failures, not records or config."""

from __future__ import annotations

import pytest

from streamlet.errors import (
    ConfigError,
    ProcessingError,
    ProducerFencedError,
    ProductionError,
    SerializationError,
    StateError,
    StoreLockedError,
    StreamletError,
    TopicError,
    TopologyError,
    TransactionError,
)
from streamlet.runtime.exitcodes import (
    EXIT_CONFIG,
    EXIT_FENCED,
    EXIT_RECORD_FAILED,
    EXIT_RESTARTABLE,
    FATAL,
    status_for,
)


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (ConfigError("x"), EXIT_CONFIG),
        (TopologyError("x"), EXIT_CONFIG),
        (TopicError("x"), EXIT_CONFIG),
        (ProcessingError("x"), EXIT_RECORD_FAILED),
        (SerializationError("x"), EXIT_RECORD_FAILED),
        (ProductionError("x"), EXIT_RECORD_FAILED),
        (ProducerFencedError("x", fatal=True), EXIT_FENCED),
        (TransactionError("x"), EXIT_RESTARTABLE),
        (StateError("x"), EXIT_RESTARTABLE),
        (StoreLockedError("x"), EXIT_RESTARTABLE),
        (StreamletError("x"), EXIT_RESTARTABLE),
    ],
)
def test_status_for_error_kind(exc: StreamletError, status: int) -> None:
    assert status_for(exc) == status
    assert (status in FATAL) == (status != EXIT_RESTARTABLE)
