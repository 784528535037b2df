from __future__ import annotations

from streamlet.runtime.fence import FenceJudge


def test_timed_out_false_when_the_transaction_was_younger_than_the_timeout() -> None:
    assert not FenceJudge(10.0).timed_out(0.4)


def test_timed_out_false_before_any_transaction() -> None:
    assert not FenceJudge(10.0).timed_out(None)


def test_timed_out_true_when_the_transaction_outlived_the_timeout() -> None:
    assert FenceJudge(10.0).timed_out(31.0)


def test_timed_out_false_when_fences_repeat_past_the_limit() -> None:
    judge = FenceJudge(1.0, limit=3)
    assert [judge.timed_out(5.0) for _ in range(4)] == [True, True, True, False]
