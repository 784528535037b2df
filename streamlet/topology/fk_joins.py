"""The DSL of the foreign-key table join (Kafka Streams' KTable-KTable foreign-key join,
KIP-213); ``Table.join(other, joiner, foreign_key=...)`` dispatches here.

The two tables need not be co-partitioned: each left row subscribes to its foreign key
through ``<app>-<name>-subscription-registration-topic`` (keyed by the foreign key, so
partitioned like the right table), and the right side answers through
``<app>-<name>-subscription-response-topic`` (partitioned like the left table). Stores:
``name`` (the result), ``<name>-subscription-store`` (who subscribed to which right row),
and ``<name>-left`` / ``<name>-right`` when a side is not materialized.
"""

from __future__ import annotations

from typing import Any

from streamlet.errors import TopologyError
from streamlet.serde import Serde
from streamlet.serde.foreign_key import (
    CombinedKey,
    ResponseSerde,
    SubscriptionSerde,
    SubscriptionState,
    response_partition,
)
from streamlet.serde.windowed import SessionWindowed, Windowed
from streamlet.topology.fk_nodes import (
    FkResponseResolveNode,
    FkRightUpdateNode,
    FkSubscriptionReceiveNode,
    FkSubscriptionSendNode,
    ForeignKeyExtractor,
)
from streamlet.topology.join_nodes import Joiner, JoinKind
from streamlet.topology.stream import Table
from streamlet.topology.table_joins import _store_of


def join_foreign_key(
    left: Table,
    right: Table,
    joiner: Joiner,
    kind: JoinKind,
    foreign_key: ForeignKeyExtractor,
    name: str | None,
    value_serde: Serde[Any] | None,
) -> Table:
    """A table keyed like ``left``: ``joiner(left_row, right[foreign_key(left_row)])``."""
    what = f"{'join' if kind is JoinKind.INNER else 'left_join'}() of two tables by foreign key"
    if kind is JoinKind.OUTER:
        raise TopologyError(
            "outer_join() by foreign key does not exist (as in Kafka Streams): a right row "
            "without subscribers has no left key to be joined under; use left_join()"
        )
    if not isinstance(right, Table) or right._builder is not left._builder:
        raise TopologyError(f"{what}: the other side must be a Table of the same App")
    if not callable(joiner) or not callable(foreign_key):
        raise TopologyError(f"{what}: joiner and foreign_key must be functions")
    for side in (left, right):
        if isinstance(side.key_serde, Windowed | SessionWindowed):
            raise TopologyError(f"{what}: joining a windowed table is not supported")
    b = left._builder
    name = b.require_name(name, what)
    left, left_store = _store_of(left, f"{name}-left", what)
    right, right_store = _store_of(right, f"{name}-right", what)
    vs = value_serde or b.default_value_serde
    left_values = left.value_serde  # as its store keeps them: the hash is of those bytes
    b.add_store(name, left.key_serde, vs)
    subscriptions = f"{name}-subscription-store"
    b.add_store(subscriptions, CombinedKey(right.key_serde, left.key_serde), SubscriptionState())
    sub_topic = b.add_internal_topic(name, "subscription-registration-topic")
    response_topic = b.add_internal_topic(name, "subscription-response-topic")
    sub_serde, response_serde = SubscriptionSerde(left.key_serde), ResponseSerde(right.value_serde)

    # left: each change subscribes; the sink's key (the foreign key) partitions it like the
    # right table, as the right table's own topic is partitioned by that key
    send, sink, resolver = f"{name}-fk-send", f"{name}-subscription-sink", name
    b.add(
        FkSubscriptionSendNode(
            send,
            (left.node,),
            op="fk_subscription_send",
            stores=(name,),
            kind=kind,
            foreign_key=foreign_key,
            left_store=left_store,
            left_value_serde=left_values,
            result_store=name,
            right_key_serde=right.key_serde,
            subscription_topic=sub_topic,
            sink=sink,
            resolver=resolver,
        )
    )
    b.add_sink(send, sub_topic, right.key_serde, sub_serde, name=sink, internal=True)

    # right: subscriptions and right updates, both answered to the left row's partition
    sub_source = b.add_source(
        [sub_topic], right.key_serde, sub_serde, name=f"{name}-subscription-source", internal=True
    )
    receive = b.add(
        FkSubscriptionReceiveNode(
            f"{name}-fk-subscribe",
            (sub_source,),
            op="fk_subscription_receive",
            stores=(subscriptions, right_store),
            subscription_store=subscriptions,
            right_store=right_store,
        )
    )
    update = b.add(
        FkRightUpdateNode(
            f"{name}-fk-right-update",
            (right.node,),
            op="fk_right_update",
            stores=(subscriptions,),
            subscription_store=subscriptions,
        )
    )
    answers = b.add_processor("merge", [receive, update], name=f"{name}-fk-responses")
    b.add_sink(
        answers,
        response_topic,
        left.key_serde,
        response_serde,
        response_partition,
        name=f"{name}-response-sink",
        internal=True,
    )

    # left: answers (and the sender's local ones) joined with the current left row
    response_source = b.add_source(
        [response_topic],
        left.key_serde,
        response_serde,
        name=f"{name}-response-source",
        internal=True,
    )
    b.add(
        FkResponseResolveNode(
            resolver,
            (response_source, send),
            op="fk_response_resolve",
            stores=(left_store, name),
            kind=kind,
            joiner=joiner,
            left_store=left_store,
            left_value_serde=left_values,
            result_store=name,
        )
    )
    return Table(b, resolver, left.key_serde, vs, name)
