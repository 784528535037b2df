from __future__ import annotations

from concurrent.futures import Future
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from streamlet.runtime.purge import RepartitionPurger


class RecordingAdmin:
    """Only records the DeleteRecords requests; what the broker does is tested on the broker."""

    def __init__(self) -> None:
        self.requests: list[dict[tuple[str, int], int]] = []
        self.futures: dict[TopicPartition, Future[Any]] = {}

    def delete_records(self, request: list[TopicPartition], **_: Any) -> dict[Any, Future[Any]]:
        self.requests.append({(tp.topic, tp.partition): tp.offset for tp in request})
        self.futures = {tp: Future() for tp in request}
        return dict(self.futures)


def test_committed_purges_only_repartition_topics() -> None:
    admin = RecordingAdmin()
    purger = RepartitionPurger(admin, ["app-x-repartition"], interval_s=0)
    purger.committed([TopicPartition("input", 0, 5), TopicPartition("app-x-repartition", 1, 7)])
    assert admin.requests == [{("app-x-repartition", 1): 7}]


def test_committed_waits_for_the_interval() -> None:
    admin = RecordingAdmin()
    purger = RepartitionPurger(admin, ["r"], interval_s=3600)
    purger.committed([TopicPartition("r", 0, 5)])
    assert admin.requests == []


def test_committed_skips_while_previous_request_in_flight_then_sends_newest() -> None:
    admin = RecordingAdmin()
    purger = RepartitionPurger(admin, ["r"], interval_s=0)
    purger.committed([TopicPartition("r", 0, 5)])
    purger.committed([TopicPartition("r", 0, 9)])
    assert admin.requests == [{("r", 0): 5}]
    for future in admin.futures.values():
        future.set_result(None)
    purger.committed([TopicPartition("r", 0, 12)])
    assert admin.requests == [{("r", 0): 5}, {("r", 0): 12}]


def test_committed_resends_offsets_of_a_failed_request() -> None:
    admin = RecordingAdmin()
    purger = RepartitionPurger(admin, ["r"], interval_s=0)
    purger.committed([TopicPartition("r", 0, 5), TopicPartition("r", 1, 3)])
    for tp, future in admin.futures.items():
        if tp.partition == 0:
            future.set_exception(KafkaException(KafkaError(KafkaError.REQUEST_TIMED_OUT)))
        else:
            future.set_result(None)
    purger.committed([])
    assert admin.requests[-1] == {("r", 0): 5}  # partition 1 was purged already
