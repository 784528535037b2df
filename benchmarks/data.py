"""The input records: keys ``k0..k9999``, values of exactly 100 bytes of JSON.

A value looks like ``{"n":17,"user":"u4242","amount":57,"pad":"xxxx..."}``: ``n`` is the
sequence number, ``user`` is W3's new key (10,000 values, independent of the input key) and
``amount`` (uniform in 0..99) drives W1's filter. The padding makes every value 100 bytes.

W4 reads the same records from a second topic whose records carry event times (the Kafka
record timestamp): record ``n`` is at ``base + n * STEP_MS - disorder(n)``, so 1,000,000
records span about 2.8 hours of event time and each record is up to ``DISORDER_MS`` older than
its predecessors, which is less than the grace: no record is late. ``base`` is a whole hour,
some hours before the load (a broker keeps records by their timestamps, so they must be
recent), which keeps the windows, and so the expected output, the same on every run.

Emit on close needs a record to move stream time past the last windows. During each W4
(emit-on-close) run the harness appends a *tick* to every partition of that topic every
``TICK_INTERVAL_S``: key ``tick``, event time ``tick_ms`` (a little past the last window's
close), so that every window of the data closes, on every engine, and the ticks' own window
never does. Kafka Streams needs more than one: it looks for closed windows at most once a
second of wall-clock time, when a record arrives. Ticks come after all the data of a
partition, so they cannot close a window early; later runs read earlier runs' ticks too,
which changes nothing (emit on update's tracker ignores the ``tick`` key).

W5 (a stream-table join) reads two more topics. The *users* table: ``USER_ROWS`` rows, key
``u<i>``, value ``{"user":"u<i>","region":"eu-west"}`` (one of ``REGIONS``, by ``region_of``);
loaded first, every row stamped an hour before the load, so its timestamps precede every page
view's. The *page views*: the same 1,000,000 records as the main input, keyed by their ``user``
field (``u<user>``) instead of ``k<i>``, stamped when produced (after every user row). Both are
partitioned explicitly by user number (``user_partition``), so they are co-partitioned by
construction, whatever partitioner an engine's own producer would use; no engine re-keys for
the join, and each re-keys once, by region, for the count.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

VALUE_BYTES = 100
KEY_COUNT = 10_000
SEED = 20_240_601
LATENCY_AMOUNT = 50  # passes W1's filter, so every latency input has an output
STEP_MS = 10  # W4: event time between consecutive records
DISORDER_MS = 2_000  # W4: how much older than its predecessors a record may be (< the grace)
_HOUR_MS = 3_600_000
TICK_KEY = "tick"
TICK_INTERVAL_S = 0.2
USER_ROWS = 100_000  # W5: rows of the users table; the page views use the first KEY_COUNT
REGIONS = ("eu-west", "eu-north", "us-east", "us-west", "ap-south", "sa-east")


def key_of(index: int) -> str:
    return f"k{index}"


def make_value(n: int, user: int, amount: int) -> bytes:
    head = f'{{"n":{n},"user":"u{user}","amount":{amount},"pad":"'
    pad = VALUE_BYTES - len(head) - 2
    if pad < 0:
        raise ValueError(f"record {n} does not fit in {VALUE_BYTES} bytes")
    return (head + "x" * pad + '"}').encode("ascii")


def user_key(user: int) -> str:
    return f"u{user}"


def region_of(user: int) -> str:
    """W5: a user's region, uneven across regions (a multiplicative hash, then a skew)."""
    h = (user * 2_654_435_761) % 1_000
    return REGIONS[min(len(REGIONS) - 1, h * h // 160_000)]


def user_value(user: int) -> bytes:
    return f'{{"user":"u{user}","region":"{region_of(user)}"}}'.encode("ascii")


def user_partition(user: int, partitions: int) -> int:
    """W5: users and page views partitioned alike, by user number: co-partitioned."""
    return user % partitions


def generate(records: int, seed: int = SEED) -> Iterator[tuple[int, int, int]]:
    """``(key index, user, amount)`` for each record, reproducibly."""
    bits = random.Random(seed).getrandbits
    for _ in range(records):
        r = bits(64)
        yield r % KEY_COUNT, (r >> 20) % KEY_COUNT, (r >> 40) % 100


def event_base_ms(records: int, now_ms: int) -> int:
    """The whole hour at least an hour before the first event time would reach ``now_ms``."""
    span = records * STEP_MS
    return ((now_ms - span) // _HOUR_MS - 1) * _HOUR_MS


def event_time(base_ms: int, n: int) -> int:
    """Record ``n``'s event time: a steady clock, with up to DISORDER_MS of disorder."""
    return base_ms + n * STEP_MS - (n * 2_654_435_761) % DISORDER_MS


def timed_partition(key_index: int, partitions: int) -> int:
    """W4's input is partitioned by key explicitly, so the harness knows each partition's
    stream time, hence which windows close; every engine reads it keyed as it is."""
    return key_index % partitions


@dataclass(frozen=True)
class Windows:
    """What W4's complete output must show."""

    topic: str
    base_ms: int
    windows: int  # distinct (key, window start) of the data: emit on close outputs each once
    tick_ms: int  # the ticks' event time: every window of the data is closed at it
    load_seconds: float


@dataclass(frozen=True)
class Joined:
    """What W5's complete output must show: the final count of page views per region."""

    users_topic: str
    views_topic: str
    users: int
    region_counts: dict[str, int]
    load_seconds: float


@dataclass(frozen=True)
class Dataset:
    """What was loaded, and so what each workload's complete output must add up to."""

    topic: str
    records: int
    w1_outputs: int  # records that pass W1's filter
    key_counts: tuple[int, ...]  # records per input key, index i for key "k<i>"
    load_seconds: float
    windows: Windows | None = None  # W4's input, loaded only when W4 runs
    joined: Joined | None = None  # W5's inputs, loaded only when W5 runs
