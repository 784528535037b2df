"""Foreign-key table joins through the TopologyTestDriver: the Kafka Streams 4.0 docs' table
("Semantics of table-table foreign-key joins") cell by cell for join and left_join, then
foreign-key changes, None foreign keys, raising extractors and joiners, ``describe()``, and
a property against a reference model of the join of the final tables."""

from __future__ import annotations

import logging
import random
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import streamlet as sl
from streamlet import serde
from streamlet.config import AppConfig, ErrorPolicies, ErrorPolicy
from streamlet.errors import ProcessingError, TopologyError
from streamlet.testing import TopologyTestDriver

S, J = serde.String(), serde.Json()

# (offset, side, key, value) per row of the docs' table; the foreign key extractor returns
# the left value itself. Offset 1 has a right and a left record: the right one comes first
# (the docs show one result, so the right row was there when the left row arrived).
ROWS: list[tuple[int, str, str, str | None]] = [
    (1, "right", "1", "foo"),
    (1, "left", "k", "1"),
    (2, "left", "k", "2"),
    (3, "left", "k", "3"),
    (4, "right", "3", "bar"),
    (5, "left", "k", None),
    (6, "left", "k", "1"),
    (7, "left", "q", "10"),
    (8, "left", "r", "10"),
    (9, "right", "10", "baz"),
]
Out = list[tuple[str, list[str | None] | None]]  # (key, joiner arguments) or (key, None)
# per offset: what comes out (joiner(left, right) as [left, right]; None: a tombstone)
CELLS: dict[str, dict[int, Out]] = {
    "join": {
        1: [("k", ["1", "foo"])],
        2: [("k", None)],
        3: [("k", None)],
        4: [("k", ["3", "bar"])],
        5: [("k", None)],
        6: [("k", ["1", "foo"])],
        7: [],
        8: [],
        9: [("q", ["10", "baz"]), ("r", ["10", "baz"])],
    },
    "left_join": {
        1: [("k", ["1", "foo"])],
        2: [("k", ["2", None])],
        3: [("k", ["3", None])],
        4: [("k", ["3", "bar"])],
        5: [("k", None)],
        6: [("k", ["1", "foo"])],
        7: [("q", ["10", None])],
        8: [("r", ["10", None])],
        9: [("q", ["10", "baz"]), ("r", ["10", "baz"])],
    },
}


class Joined:
    """A joiner that remembers its calls; the result carries both arguments."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, Any]] = []

    def __call__(self, left: Any, right: Any) -> list[Any]:
        self.calls.append((left, right))
        return [left, right]


def _app(method: str, joiner: Any, foreign_key: Any = lambda v: v) -> sl.App:
    app = sl.App("fk-join")
    left = app.table("left", name="left", key_serde=S, value_serde=S)
    right = app.table("right", name="right", key_serde=S, value_serde=S)
    joined = getattr(left, method)(right, joiner, foreign_key=foreign_key, name="joined")
    joined.to_stream().to("out", value_serde=J)
    return app


@pytest.mark.parametrize(
    ("method", "offset"),
    [(method, offset) for method in CELLS for offset in sorted(CELLS[method])],
    ids=lambda p: str(p),
)
def test_docs_table_cell(method: str, offset: int) -> None:
    """Pipe the rows before ``offset``, then its rows: the joiner is called as the cell says
    and its results (or tombstones) come out, at the row's timestamp, and are stored."""
    joiner = Joined()
    with TopologyTestDriver(_app(method, joiner)) as driver:
        inputs = {side: driver.input_topic(side, S, S) for side in ("left", "right")}
        out = driver.output_topic("out", S, J)
        for at, side, key, value in [row for row in ROWS if row[0] < offset]:
            inputs[side].pipe(key, value, timestamp=at)
        joiner.calls.clear()
        out.read_records()
        for at, side, key, value in [row for row in ROWS if row[0] == offset]:
            inputs[side].pipe(key, value, timestamp=at)
        records = [(r.key, r.value, r.timestamp) for r in out.read_records()]
        stored = {k: driver.store("joined").get(k) for k in ("k", "q", "r")}
    expected = CELLS[method][offset]
    assert records == [(k, v, offset) for k, v in expected]
    assert joiner.calls == [tuple(v) for _, v in expected if v is not None]
    for key, value in expected:
        assert stored[key] == value  # the result table is materialized under name


def test_docs_table_covers_every_cell() -> None:
    assert sum(len(cells) for cells in CELLS.values()) == 18


def _fk_app(method: str, value_serde: Any = J) -> sl.App:
    """Orders (key: order id, value {"customer": id, "n": amount}) joined with customers."""
    app = sl.App("fk-orders")
    orders = app.table("orders", name="orders", key_serde=S, value_serde=J)
    customers = app.table("customers", name="customers", key_serde=S, value_serde=S)
    joined = getattr(orders, method)(
        customers,
        lambda order, name: [order["n"], name],
        foreign_key=lambda order: order["customer"],
        name="enriched",
        value_serde=value_serde,
    )
    joined.to_stream().to("out", value_serde=J)
    return app


def test_foreign_key_change_moves_the_result_to_the_new_right_row() -> None:
    with TopologyTestDriver(_fk_app("join")) as driver:
        customers, orders = (
            driver.input_topic("customers", S, S),
            driver.input_topic("orders", S, J),
        )
        out = driver.output_topic("out", S, J)
        customers.pipe_many([("c1", "ann"), ("c2", "bob")])
        orders.pipe("o1", {"customer": "c1", "n": 5})
        orders.pipe("o1", {"customer": "c2", "n": 5})
        customers.pipe("c1", "ANN")  # o1 left c1: no result for it
        customers.pipe("c2", "BOB")
        assert out.read_key_values() == [("o1", [5, "ann"]), ("o1", [5, "bob"]), ("o1", [5, "BOB"])]
        subscriptions = driver.store("enriched-subscription-store")
        assert [k for k, _ in subscriptions.all()] == [("c2", "o1")]


def test_right_delete_retracts_inner_and_keeps_left_rows() -> None:
    for method, after in (("join", None), ("left_join", [1, None])):
        with TopologyTestDriver(_fk_app(method)) as driver:
            driver.input_topic("customers", S, S).pipe("c1", "ann")
            driver.input_topic("orders", S, J).pipe("o1", {"customer": "c1", "n": 1})
            driver.input_topic("customers", S, S).pipe("c1", None)
            assert driver.output_topic("out", S, J).read_key_values() == [
                ("o1", [1, "ann"]),
                ("o1", after),
            ]


def test_left_delete_unsubscribes() -> None:
    with TopologyTestDriver(_fk_app("left_join")) as driver:
        driver.input_topic("orders", S, J).pipe("o1", {"customer": "c1", "n": 1})
        driver.input_topic("orders", S, J).pipe("o1", None)
        driver.input_topic("customers", S, S).pipe("c1", "ann")  # nobody subscribes any more
        assert driver.output_topic("out", S, J).read_key_values() == [
            ("o1", [1, None]),
            ("o1", None),
        ]
        assert list(driver.store("enriched-subscription-store").all()) == []


def test_none_foreign_key_is_counted_retracts_inner_and_left_joins_with_none(
    caplog: pytest.LogCaptureFixture,
) -> None:
    for method, none_result in (("join", None), ("left_join", [2, None])):
        caplog.clear()
        with caplog.at_level(logging.WARNING), TopologyTestDriver(_fk_app(method)) as driver:
            driver.input_topic("customers", S, S).pipe("c1", "ann")
            orders = driver.input_topic("orders", S, J)
            orders.pipe("o1", {"customer": "c1", "n": 1})
            orders.pipe("o1", {"customer": None, "n": 2})  # leaves c1, joins nothing
            orders.pipe("o2", {"customer": None, "n": 2})
            driver.input_topic("customers", S, S).pipe("c1", "ANN")  # o1 is not subscribed
            emitted = driver.output_topic("out", S, J).read_key_values()
            dropped = sum(t.dropped.get("foreign_key_null", 0) for t in driver._tasks)
        expected = [("o1", [1, "ann"]), ("o1", none_result)]
        if none_result is not None:
            expected.append(("o2", none_result))
        assert emitted == expected
        assert dropped == 2
        assert any("foreign key null" in r.getMessage() for r in caplog.records)


def test_unchanged_foreign_key_updates_the_result() -> None:
    with TopologyTestDriver(_fk_app("join")) as driver:
        driver.input_topic("customers", S, S).pipe("c1", "ann")
        orders = driver.input_topic("orders", S, J)
        orders.pipe("o1", {"customer": "c1", "n": 1})
        orders.pipe("o1", {"customer": "c1", "n": 2})
        assert driver.output_topic("out", S, J).read_key_values() == [
            ("o1", [1, "ann"]),
            ("o1", [2, "ann"]),
        ]


def _bad_fk(order: dict[str, Any]) -> Any:
    return order["customer"]  # KeyError for an order without one


def test_extractor_error_fails_with_record_location() -> None:
    app = sl.App("fk-bad")
    orders = app.table("orders", name="orders", key_serde=S, value_serde=J)
    customers = app.table("customers", name="customers", key_serde=S, value_serde=S)
    orders.join(customers, lambda a, b: [a, b], foreign_key=_bad_fk, name="j")
    with TopologyTestDriver(app) as driver:
        orders_in = driver.input_topic("orders", S, J)
        orders_in.pipe("o1", {"customer": "c1"})
        with pytest.raises(ProcessingError, match="KeyError") as caught:
            orders_in.pipe("o2", {"n": 1})
    error = caught.value
    assert (error.topic, error.partition, error.offset) == ("orders", 0, 1)
    assert error.function is not None and error.function.endswith("_bad_fk")


def test_extractor_error_follows_continue_policy() -> None:
    app = sl.App("fk-bad")
    orders = app.table("orders", name="orders", key_serde=S, value_serde=J)
    customers = app.table("customers", name="customers", key_serde=S, value_serde=S)
    joined = orders.left_join(customers, lambda a, b: [a["n"], b], foreign_key=_bad_fk, name="j")
    joined.to_stream().to("out", value_serde=J)
    config = AppConfig("fk-bad", errors=ErrorPolicies(processing=ErrorPolicy.CONTINUE))
    with TopologyTestDriver(app, config) as driver:
        driver.input_topic("orders", S, J).pipe_many(
            [("o1", {"n": 1}), ("o2", {"customer": "c", "n": 2})]
        )
        assert driver.output_topic("out", S, J).read_key_values() == [("o2", [2, None])]


def _failing(order: dict[str, Any], name: str | None) -> Any:
    if name == "bad":
        raise ValueError("cannot join bad")
    return [order["n"], name]


def test_joiner_error_fails_with_record_location() -> None:
    app = sl.App("fk-bad")
    orders = app.table("orders", name="orders", key_serde=S, value_serde=J)
    customers = app.table("customers", name="customers", key_serde=S, value_serde=S)
    orders.join(customers, _failing, foreign_key=lambda o: o["customer"], name="j")
    with TopologyTestDriver(app) as driver:
        driver.input_topic("orders", S, J).pipe("o1", {"customer": "c1", "n": 1})
        with pytest.raises(ProcessingError, match="cannot join bad") as caught:
            driver.input_topic("customers", S, S).pipe("c1", "bad")
        assert driver.store("j").get("o1") is None  # the failed record's writes aborted
    error = caught.value
    assert error.function is not None and error.function.endswith("_failing")
    # the failing join ran on the answer that the right update sent back (offset 1: offset 0
    # is the quiet "no customer yet" answer to the order's subscription)
    assert error.topic == "fk-bad-j-subscription-response-topic" and error.offset == 1


def test_describe_shows_the_four_nodes_and_internal_topics() -> None:
    text = _fk_app("join").topology().describe()
    for part in (
        "enriched-fk-send (foreign-key inner join: subscribe rows of 'orders'",
        "enriched-fk-subscribe (foreign-key join: subscriptions into 'enriched-subscription-store'",
        "enriched-fk-right-update (foreign-key join: right updates",
        "enriched (foreign-key inner join: answers joined with 'orders' into 'enriched')",
        "fk-orders-enriched-subscription-registration-topic (repartition)",
        "fk-orders-enriched-subscription-response-topic (repartition)",
    ):
        assert part in text, text


def test_outer_join_by_foreign_key_is_refused() -> None:
    app = sl.App("fk-outer")
    left = app.table("left", name="left", key_serde=S, value_serde=S)
    right = app.table("right", name="right", key_serde=S, value_serde=S)
    with pytest.raises(TopologyError, match="outer_join"):
        left.outer_join(right, lambda a, b: a, foreign_key=lambda v: v, name="j")
    with pytest.raises(TopologyError, match="name="):
        left.join(right, lambda a, b: a, foreign_key=lambda v: v)


def test_join_of_derived_tables_materializes_them() -> None:
    app = sl.App("fk-derived")
    left = app.table("left", name="left", key_serde=S, value_serde=S).map_values(str.upper)
    right = app.table("right", name="right", key_serde=S, value_serde=S).filter(
        lambda _k, v: v != "skip"
    )
    left.left_join(right, lambda a, b: [a, b], foreign_key=str.lower, name="j")
    with TopologyTestDriver(app) as driver:
        driver.input_topic("right", S, S).pipe_many([("x", "1"), ("y", "skip")])
        driver.input_topic("left", S, S).pipe_many([("a", "x"), ("b", "y")])
        assert dict(driver.store("j").all()) == {"a": ["X", "1"], "b": ["Y", None]}


# -- a property against a reference model ------------------------------------------------
LEFT_KEYS, RIGHT_KEYS = ["k1", "k2", "k3"], ["a", "b"]
CHANGES = st.lists(
    st.one_of(
        st.tuples(
            st.just("orders"),
            st.sampled_from(LEFT_KEYS),
            st.one_of(
                st.none(),
                st.fixed_dictionaries(
                    {
                        "customer": st.one_of(st.none(), st.sampled_from(RIGHT_KEYS)),
                        "n": st.integers(0, 2),
                    }
                ),
            ),
        ),
        st.tuples(
            st.just("customers"),
            st.sampled_from(RIGHT_KEYS),
            st.one_of(st.none(), st.sampled_from(["x", "y"])),
        ),
    ),
    max_size=30,
)


def _model(method: str, orders: dict[str, Any], customers: dict[str, str]) -> dict[str, Any]:
    out = {}
    for key, order in orders.items():
        name = None if order["customer"] is None else customers.get(order["customer"])
        if name is not None or method == "left_join":
            out[key] = [order["n"], name]
    return out


@settings(max_examples=100, deadline=None)
@given(method=st.sampled_from(sorted(CELLS)), changes=CHANGES)
def test_result_follows_join_of_current_rows(
    method: str, changes: list[tuple[str, str, Any]]
) -> None:
    """After every change: the result store is the foreign-key join of the current tables,
    every record emitted by the change agrees with it (no stale result comes out), and the
    latest emitted value per key is the join too (no stale result survives downstream)."""
    tables: dict[str, dict[str, Any]] = {"orders": {}, "customers": {}}
    latest: dict[str, Any] = {}
    with TopologyTestDriver(_fk_app(method)) as driver:
        inputs = {"orders": driver.input_topic("orders", S, J)}
        inputs["customers"] = driver.input_topic("customers", S, S)
        out = driver.output_topic("out", S, J)
        for side, key, value in changes:
            if value is None:
                tables[side].pop(key, None)
            else:
                tables[side][key] = value
            inputs[side].pipe(key, value)
            model = _model(method, tables["orders"], tables["customers"])
            for k, v in out.read_key_values():
                assert v == model.get(k), (k, v, model)
                latest[k] = v
            assert dict(driver.store("enriched").all()) == model
            assert {k: v for k, v in latest.items() if v is not None} == model


class _HeldDriver(TopologyTestDriver):
    """A driver that holds the records of the join's two internal topics until the test
    delivers them, as if every foreign key had its own right partition: subscriptions queue
    per foreign key, answers per the right-side record that sent them (each queue in order,
    as a partition is read), so answers from different foreign keys overtake each other and
    interleave with input changes as they do between tasks on a broker."""

    def _feed(self, message: Any) -> None:
        origins = self.__dict__.setdefault("origins", [])
        origins.append(message.key())
        try:
            super()._feed(message)
        finally:
            origins.pop()

    def _cascade(self, start: int) -> None:
        held = self.__dict__.setdefault("held", {})
        for message in self._open[start:]:
            topic = message.topic()
            if topic.endswith("-registration-topic"):
                held.setdefault(("registration", message.key()), []).append(message)
            elif topic.endswith("-response-topic"):
                origin = self.__dict__["origins"][-1]
                held.setdefault(("response", origin), []).append(message)
            elif topic in self._reader:
                self._feed(message)

    def queues(self) -> list[list[Any]]:
        held = self.__dict__.get("held", {})
        return [held[name] for name in sorted(held) if held[name]]

    def deliver(self, pick: int) -> None:
        queues = self.queues()
        if queues:
            message = queues[pick % len(queues)].pop(0)
            self._run(lambda: self._feed(message))


# few keys, so left rows move between foreign keys while their answers are on the way
HELD_CHANGES = st.one_of(
    st.tuples(
        st.just("orders"),
        st.sampled_from(["k1", "k2"]),
        st.one_of(
            st.none(),
            st.fixed_dictionaries(
                {"customer": st.sampled_from([None, *RIGHT_KEYS]), "n": st.integers(0, 1)}
            ),
        ),
    ),
    st.tuples(st.just("customers"), st.sampled_from(RIGHT_KEYS), st.sampled_from([None, "x"])),
)
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("change"), HELD_CHANGES),
        st.tuples(st.just("deliver"), st.integers(0, 5)),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(method=st.sampled_from(sorted(CELLS)), steps=STEPS, seed=st.randoms())
# found by CI: an answer to a subscription made before an unsubscribe, for a left row that
# then came back with the same value (the same hash), joined a customer deleted meanwhile
@example(
    method="join",
    steps=[
        ("change", ("customers", "a", "x")),
        ("change", ("orders", "k1", {"n": 0, "customer": "a"})),
        ("change", ("orders", "k1", {"n": 0, "customer": None})),
        ("deliver", 0),
        ("change", ("orders", "k1", {"n": 0, "customer": "a"})),
        ("deliver", 0),
        ("change", ("customers", "a", None)),
    ],
    seed=random.Random(0),
)
def test_interleaved_answers_converge_and_stale_ones_never_come_out(
    method: str, steps: list[tuple[str, Any]], seed: Any
) -> None:
    """Subscriptions and answers delayed and interleaved with input changes at random: every
    result that comes out joins the left row current at that moment (an answer for an older
    left row is discarded), and once everything is delivered the result store and the
    latest output per key are the foreign-key join of the final tables."""
    app = sl.App("fk-held")
    orders = app.table("orders", name="orders", key_serde=S, value_serde=J)
    customers = app.table("customers", name="customers", key_serde=S, value_serde=S)
    joined = getattr(orders, method)(
        customers, lambda o, c: [o, c], foreign_key=lambda o: o["customer"], name="enriched"
    )
    joined.to_stream().to("out", value_serde=J)
    tables: dict[str, dict[str, Any]] = {"orders": {}, "customers": {}}
    latest: dict[str, Any] = {}
    with _HeldDriver(app) as driver:
        inputs = {"orders": driver.input_topic("orders", S, J)}
        inputs["customers"] = driver.input_topic("customers", S, S)
        out = driver.output_topic("out", S, J)

        def check_emitted() -> None:
            for k, v in out.read_key_values():
                if v is not None:
                    assert v[0] == tables["orders"].get(k), (k, v, tables)
                latest[k] = v

        for action, arg in steps:
            if action == "change":
                side, key, value = arg
                if value is None:
                    tables[side].pop(key, None)
                else:
                    tables[side][key] = value
                inputs[side].pipe(key, value)
            else:
                driver.deliver(arg)
            check_emitted()
        while driver.queues():
            driver.deliver(seed.randrange(6))
            check_emitted()
        model = {
            k: [order, name]
            for k, (n, name) in (
                (
                    k,
                    (
                        o["n"],
                        None if o["customer"] is None else tables["customers"].get(o["customer"]),
                    ),
                )
                for k, o in tables["orders"].items()
            )
            for order in [tables["orders"][k]]
            if name is not None or method == "left_join"
        }
        assert dict(driver.store("enriched").all()) == model
        assert {k: v for k, v in latest.items() if v is not None} == model


def test_right_delete_overtaking_a_left_update_still_retracts_the_inner_result() -> None:
    """The left row changes (same foreign key) while its right row is deleted: the delete's
    answer carries the old hash and is discarded, so the new subscription must ask for an
    answer even without a right row (the result table had a row), or the old result stays."""
    app = sl.App("fk-race")
    orders = app.table("orders", name="orders", key_serde=S, value_serde=J)
    customers = app.table("customers", name="customers", key_serde=S, value_serde=S)
    orders.join(customers, lambda o, c: [o, c], foreign_key=lambda o: o["customer"], name="j")
    with _HeldDriver(app) as driver:
        orders_in, customers_in = (
            driver.input_topic("orders", S, J),
            driver.input_topic("customers", S, S),
        )
        customers_in.pipe("a", "x")
        orders_in.pipe("k1", {"customer": "a", "n": 0})
        while driver.queues():
            driver.deliver(0)
        assert driver.store("j").get("k1") == [{"customer": "a", "n": 0}, "x"]
        orders_in.pipe("k1", {"customer": "a", "n": 1})
        customers_in.pipe("a", None)
        driver.deliver(1)  # the delete's answer first (stale: discarded), then the subscription
        while driver.queues():
            driver.deliver(0)
        assert driver.store("j").get("k1") is None


def test_self_join_by_foreign_key() -> None:
    """A table joined with itself (employees with their manager): both sides are one store
    and one task, which reads the subscriptions and the answers too."""
    app = sl.App("fk-self")
    staff = app.table("staff", name="staff", key_serde=S, value_serde=J)
    staff.left_join(
        staff,
        lambda e, m: [e["name"], None if m is None else m["name"]],
        foreign_key=lambda e: e["boss"],
        name="with-boss",
    )
    with TopologyTestDriver(app) as driver:
        people = driver.input_topic("staff", S, J)
        people.pipe("1", {"name": "ann", "boss": None})
        people.pipe("2", {"name": "bo", "boss": "1"})
        people.pipe("3", {"name": "cy", "boss": "2"})
        people.pipe("1", {"name": "Ann", "boss": None})  # ann's reports see the new name
        assert dict(driver.store("with-boss").all()) == {
            "1": ["Ann", None],
            "2": ["bo", "Ann"],
            "3": ["cy", "bo"],
        }


def test_extractor_error_follows_the_dead_letter_policy() -> None:
    """The left record whose foreign key cannot be extracted is dead-lettered with its
    location; the other rows still join."""
    errors = sl.ErrorPolicies(processing=sl.ErrorPolicy.DEAD_LETTER, dead_letter_topic="dlq")
    app = sl.App("fk-dlq", errors=errors)
    orders = app.table("orders", name="orders", key_serde=S, value_serde=J)
    customers = app.table("customers", name="customers", key_serde=S, value_serde=S)
    joined = orders.join(customers, lambda o, c: [o["n"], c], foreign_key=_bad_fk, name="j")
    joined.to_stream().to("out", value_serde=J)
    with TopologyTestDriver(app) as driver:
        driver.input_topic("customers", S, S).pipe("c1", "ann")
        driver.input_topic("orders", S, J).pipe_many(
            [("o1", {"n": 1}), ("o2", {"customer": "c1", "n": 2})]
        )
        (dead,) = driver.output_topic("dlq", S, J).read_records()
        assert (dead.key, dead.value) == ("o1", {"n": 1})
        headers = dict(dead.headers)
        assert headers["streamlet.source.topic"] == b"orders"
        assert driver.output_topic("out", S, J).read_key_values() == [("o2", [2, "ann"])]
