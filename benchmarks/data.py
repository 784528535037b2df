"""The input records: keys ``k0..k9999``, values of exactly 100 bytes of JSON.

A value looks like ``{"n":17,"user":"u4242","amount":57,"pad":"xxxx..."}``: ``n`` is the
sequence number, ``user`` is W3's new key (10,000 values, independent of the input key) and
``amount`` (uniform in 0..99) drives W1's filter. The padding makes every value 100 bytes.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

VALUE_BYTES = 100
KEY_COUNT = 10_000
SEED = 20_240_601
LATENCY_AMOUNT = 50  # passes W1's filter, so every latency input has an output


def key_of(index: int) -> str:
    return f"k{index}"


def make_value(n: int, user: int, amount: int) -> bytes:
    head = f'{{"n":{n},"user":"u{user}","amount":{amount},"pad":"'
    pad = VALUE_BYTES - len(head) - 2
    if pad < 0:
        raise ValueError(f"record {n} does not fit in {VALUE_BYTES} bytes")
    return (head + "x" * pad + '"}').encode("ascii")


def generate(records: int, seed: int = SEED) -> Iterator[tuple[int, int, int]]:
    """``(key index, user, amount)`` for each record, reproducibly."""
    bits = random.Random(seed).getrandbits
    for _ in range(records):
        r = bits(64)
        yield r % KEY_COUNT, (r >> 20) % KEY_COUNT, (r >> 40) % 100


@dataclass(frozen=True)
class Dataset:
    """What was loaded, and so what each workload's complete output must add up to."""

    topic: str
    records: int
    w1_outputs: int  # records that pass W1's filter
    key_counts: tuple[int, ...]  # records per input key, index i for key "k<i>"
    load_seconds: float
