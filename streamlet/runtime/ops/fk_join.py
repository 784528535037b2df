"""How the four nodes of a foreign-key table join run (``streamlet.topology.fk_nodes``).

The left row's hash travels with its subscription and comes back with every answer; the
resolver joins an answer only if the hash still matches the current left row, so an answer
overtaken by a newer left change (the left row moved to another foreign key, or changed and
re-subscribed) is discarded rather than resurrecting an old result.

Which answers a left change asks for (``Instruction``):

- a left delete unsubscribes and asks for an answer, so the result is deleted too;
- a left row that moved to another foreign key unsubscribes from the old one;
- a left join always asks for an answer (no right row: ``joiner(left, None)``); an inner join
  asks for a loud one even without a right row when a result may exist to retract (the
  foreign key changed, or the result table has a row), and otherwise for a quiet one: without
  a right row it only retracts a stale result (one joined from an answer to an older
  subscription of an equal left value), and emits nothing else;
- a left row whose foreign key is None subscribes nothing: it is counted
  (``foreign_key_null``) and answered locally with "no right row", so an inner join
  retracts its result and a left join emits ``joiner(left, None)``.

As the Kafka Streams docs' table shows, an answer that asked for a result even without a
right row announces an absent result with a tombstone (the result may have existed when
it was asked for); a local answer only deletes a result that exists.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from streamlet.record import Record
from streamlet.runtime.dropped import DroppedRecords
from streamlet.runtime.ops_table import Change
from streamlet.runtime.userfn import Emit, TaskServices, user_error
from streamlet.serde import Serde
from streamlet.serde.foreign_key import Instruction, Response, Subscription
from streamlet.topology.fk_nodes import (
    FkResponseResolveNode,
    FkRightUpdateNode,
    FkSubscriptionReceiveNode,
    FkSubscriptionSendNode,
)
from streamlet.topology.join_nodes import JoinKind

_DELETES = (Instruction.DELETE_KEY_NO_PROPAGATE, Instruction.DELETE_KEY_AND_PROPAGATE)


def _hasher(serde: Serde[Any], store: str) -> Callable[[Any], bytes | None]:
    """The hash of a left row: of its bytes as the left store keeps them (None: no row)."""

    def value_hash(value: Any) -> bytes | None:
        if value is None:
            return None
        data = serde.serialize(store, value) or b""
        return hashlib.blake2b(data, digest_size=16).digest()

    return value_hash


def _at(r: Record, key: Any, value: Any) -> Record:
    return Record(key, value, r.timestamp, r.headers, r.topic, r.partition, r.offset)


def compile_fk_send(
    n: FkSubscriptionSendNode, _out: Emit, kids: dict[str, Emit], task: TaskServices
) -> Emit:
    sink, resolve = kids[n.sink], kids[n.resolver]
    result = task.store(n.result_store)
    extractor, fk_serde, kind = n.foreign_key, n.right_key_serde, n.kind
    value_hash = _hasher(n.left_value_serde, n.left_store)
    dropped = DroppedRecords(task, n.name)

    def extract(value: Any, *, strict: bool) -> Any:
        try:
            return extractor(value)
        except Exception as exc:
            if not strict:  # it raised for this row before, so the row never subscribed
                return None
            raise user_error(exc, n.name, extractor) from exc

    def same(a: Any, b: Any) -> bool:  # as bytes: that is how the right side keys rows
        topic = n.subscription_topic
        return fk_serde.serialize(topic, a) == fk_serde.serialize(topic, b)

    def subscribe(r: Record, fk: Any, h: bytes | None, instruction: Instruction) -> None:
        sub = Subscription(r.key, h, instruction, r.partition or 0)
        sink(_at(r, fk, sub))

    def emit(r: Record) -> None:
        key = r.key
        if key is None:  # a table has no row for a null key
            return
        old, new = r.value.old, r.value.new
        old_fk = None if old is None else extract(old, strict=False)
        new_fk = None if new is None else extract(new, strict=True)
        moved = old_fk is not None and (new_fk is None or not same(old_fk, new_fk))
        if moved:
            gone = Instruction.DELETE_KEY_AND_PROPAGATE if new is None else None
            subscribe(r, old_fk, None, gone or Instruction.DELETE_KEY_NO_PROPAGATE)
        if new is None:
            if old_fk is None:  # no subscription will answer this delete: resolve it here
                resolve(_at(r, key, Response(None, None, False)))
            return
        h = value_hash(new)
        if new_fk is None:
            dropped.drop(r, "foreign_key_null")
            resolve(_at(r, key, Response(h, None, False)))
            return
        if kind is JoinKind.LEFT or moved or result.get(key) is not None:
            instruction = Instruction.PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE
        else:
            instruction = Instruction.PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE
        subscribe(r, new_fk, h, instruction)

    return emit


def compile_fk_receive(
    n: FkSubscriptionReceiveNode, out: Emit, _kids: dict[str, Emit], task: TaskServices
) -> Emit:
    subscriptions = task.store(n.subscription_store)
    right = task.store(n.right_store)

    def emit(r: Record) -> None:
        fk, sub = r.key, r.value
        if fk is None or sub is None:  # never written by a subscription sender
            return
        instruction = sub.instruction
        if instruction in _DELETES:
            subscriptions.delete((fk, sub.left_key))
            if instruction is Instruction.DELETE_KEY_NO_PROPAGATE:
                return
            value = None
        else:
            subscriptions.put((fk, sub.left_key), (sub.hash, sub.partition))
            value = right.get(fk)
        # "only if available" is still answered when the right row is missing, quietly: the
        # resolver then emits nothing unless a result exists, which can only be a stale one —
        # joined from an answer to an older subscription whose left row had the same value
        # (so the same hash) before an unsubscribe; answers to one left key come back in
        # order, so this answer retracts it (without it the stale result survived)
        loud = instruction is not Instruction.PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE
        out(_at(r, sub.left_key, Response(sub.hash, value, loud, sub.partition)))

    return emit


def compile_fk_right_update(
    n: FkRightUpdateNode, out: Emit, _kids: dict[str, Emit], task: TaskServices
) -> Emit:
    subscriptions = task.store(n.subscription_store)

    def emit(r: Record) -> None:
        fk = r.key
        if fk is None:
            return
        new = r.value.new
        for (_, left_key), (h, partition) in list(subscriptions.prefix_scan((fk,))):
            out(_at(r, left_key, Response(h, new, True, partition)))

    return emit


def compile_fk_resolve(
    n: FkResponseResolveNode, out: Emit, _kids: dict[str, Emit], task: TaskServices
) -> Emit:
    left = task.store(n.left_store)
    result = task.store(n.result_store)
    joiner, inner = n.joiner, n.kind is JoinKind.INNER
    value_hash = _hasher(n.left_value_serde, n.left_store)

    def emit(r: Record) -> None:
        key, answer = r.key, r.value
        if key is None or answer is None:
            return
        row = left.get(key)
        if answer.hash != value_hash(row):
            return  # the left row changed since it subscribed: a newer answer is on its way
        new = None
        if row is not None and not (inner and answer.value is None):
            try:
                new = joiner(row, answer.value)
            except Exception as exc:
                raise user_error(exc, n.name, joiner) from exc
        old = result.get(key)
        if new is not None:
            result.put(key, new)
        elif old is not None:
            result.delete(key)
        elif not answer.loud:
            return
        out(_at(r, key, Change(old, new)))

    return emit
