"""Typed nodes of the foreign-key table join (inert data; the runtime compiles them by type,
see ``streamlet.runtime.ops.COMPILERS``).

A foreign-key join is four nodes in two sub-topologies, as in Kafka Streams (KIP-213):

- left: ``FkSubscriptionSendNode`` turns each change of the left table into subscriptions
  keyed by the foreign key (to the subscription topic, partitioned like the right table);
- right: ``FkSubscriptionReceiveNode`` keeps them in the subscription store, keyed by
  ``(foreign key, left key)``, and answers each with the current right row; and
  ``FkRightUpdateNode`` answers every subscriber of a right row when that row changes
  (both to the response topic, partitioned like the left table);
- left: ``FkResponseResolveNode`` joins each answer with the current left row unless the left
  row changed since the subscription (its hash differs), and keeps the result table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streamlet.serde import Serde
from streamlet.topology.join_nodes import Joiner, JoinKind
from streamlet.topology.nodes import ProcessorNode

ForeignKeyExtractor = Callable[[Any], Any]
"""``foreign_key(left_value) -> right key``; None: the row joins nothing."""


@dataclass(frozen=True, kw_only=True)
class FkSubscriptionSendNode(ProcessorNode):
    """Left side: subscribe the left row to its foreign key (and unsubscribe the old one).
    ``sink`` and ``resolver`` name its two children: a row without a foreign key is
    answered locally, through the resolver."""

    kind: JoinKind
    foreign_key: ForeignKeyExtractor
    left_store: str
    left_value_serde: Serde[Any]  # the left rows' serde: their bytes are hashed
    result_store: str
    right_key_serde: Serde[Any]  # the foreign keys' serde, to compare old and new as bytes
    subscription_topic: str  # what the foreign keys are serialized for
    sink: str
    resolver: str

    def describe(self) -> str:
        return (
            f"foreign-key {self.kind.value} join: subscribe rows of {self.left_store!r} "
            f"to their foreign key"
        )


@dataclass(frozen=True, kw_only=True)
class FkSubscriptionReceiveNode(ProcessorNode):
    """Right side: keep subscriptions in ``subscription_store``; answer from ``right_store``."""

    subscription_store: str
    right_store: str

    def describe(self) -> str:
        return (
            f"foreign-key join: subscriptions into {self.subscription_store!r}, answered "
            f"from {self.right_store!r}"
        )


@dataclass(frozen=True, kw_only=True)
class FkRightUpdateNode(ProcessorNode):
    """Right side: a change of a right row answers every left key subscribed to it."""

    subscription_store: str

    def describe(self) -> str:
        return f"foreign-key join: right updates to the subscribers in {self.subscription_store!r}"


@dataclass(frozen=True, kw_only=True)
class FkResponseResolveNode(ProcessorNode):
    """Left side: join an answer with the current left row (stale answers are dropped) and
    keep the result row in ``result_store``."""

    kind: JoinKind
    joiner: Joiner
    left_store: str
    left_value_serde: Serde[Any]
    result_store: str

    def describe(self) -> str:
        return (
            f"foreign-key {self.kind.value} join: answers joined with {self.left_store!r} "
            f"into {self.result_store!r}"
        )
