"""``render_text`` and ``render_json`` of ``streamlet lag`` (pure functions)."""

from __future__ import annotations

import json

from streamlet.ops.lag import PartitionLag, render_json, render_text

ROWS = [
    PartitionLag("orders", 0, 10, 15, 5),
    PartitionLag("app-by-id-repartition", 1, None, 3, 3),
]


def test_render_text_aligns_columns_and_totals_the_lag() -> None:
    lines = render_text(ROWS).splitlines()
    assert lines[0].split() == ["TOPIC", "PARTITION", "COMMITTED", "END", "LAG"]
    assert lines[1].split() == ["orders", "0", "10", "15", "5"]
    assert lines[2].split() == ["app-by-id-repartition", "1", "-", "3", "3"]
    assert lines[1].index("10") == lines[0].index("COMMITTED")
    assert lines[-1] == "total lag: 8"


def test_render_json_has_the_pinned_shape() -> None:
    data = json.loads(render_json(ROWS))
    assert data == {
        "partitions": [
            {"topic": "orders", "partition": 0, "committed": 10, "end": 15, "lag": 5},
            {
                "topic": "app-by-id-repartition",
                "partition": 1,
                "committed": None,
                "end": 3,
                "lag": 3,
            },
        ]
    }
