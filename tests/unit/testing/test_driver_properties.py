"""Property: counting by a new key through a repartition topic equals a Python fold."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

import streamlet as sl
from streamlet import serde
from streamlet.testing import TopologyTestDriver

S, I64 = serde.String(), serde.Int64()
RECORDS = st.lists(
    st.tuples(st.sampled_from(["k1", "k2", "k3"]), st.text("abc", max_size=2)), max_size=30
)


def _count_by_value() -> sl.App:
    app = sl.App("prop")
    (
        app.stream("in", key_serde=S, value_serde=S)
        .group_by(lambda _k, v: v, name="by-value", key_serde=S)
        .count(name="counts")
        .to_stream()
        .to("out", value_serde=I64)
    )
    return app


@settings(max_examples=60, deadline=None)
@given(RECORDS)
def test_count_through_repartition_equals_fold(records: list[tuple[str, str]]) -> None:
    running: Counter[str] = Counter()
    expected_updates = []
    for _key, value in records:
        running[value] += 1
        expected_updates.append((value, running[value]))

    with TopologyTestDriver(_count_by_value()) as driver:
        driver.input_topic("in", S, S).pipe_many(records)
        updates = driver.output_topic("out", S, I64).read_key_values()
        table = dict(driver.store("counts").all())
        changelog = driver.output_topic("prop-counts-changelog", S, I64).read_key_values()

    assert updates == expected_updates
    assert table == dict(running)
    assert changelog == expected_updates  # one commit per piped record: nothing coalesces
