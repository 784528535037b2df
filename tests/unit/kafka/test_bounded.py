"""``call_bounded``: a client call that never returns (librdkafka's send_offsets_to_transaction
after its group coordinator died) costs its bound, not the worker."""

from __future__ import annotations

import threading
import time

import pytest

from streamlet.kafka.bounded import CallStuck, call_bounded


def test_call_bounded_returns_the_result_of_a_call_that_returns() -> None:
    assert call_bounded(lambda: 42, 5.0, "answer") == 42


def test_call_bounded_raises_the_error_of_a_call_that_fails() -> None:
    def fail() -> None:
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        call_bounded(fail, 5.0, "failing")


def test_call_bounded_gives_up_on_a_call_that_never_returns() -> None:
    release = threading.Event()
    started = time.monotonic()
    with pytest.raises(CallStuck, match="stuck call did not return within"):
        call_bounded(release.wait, 0.2, "stuck call")
    assert time.monotonic() - started < 3.0
    release.set()
