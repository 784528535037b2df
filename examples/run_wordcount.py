"""The README's first command: word count end to end on the local broker.

Creates the topics, starts ``streamlet run wordcount:app`` as a real worker process, feeds
it text, prints the final count of each word as a read_committed consumer sees it, and stops
the worker with SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

from confluent_kafka import Consumer, Producer

from streamlet.kafka.admin import Admin

HERE = Path(__file__).resolve().parent
TEXT = """\
Exactly once means every record counts once
even when a worker dies mid transaction
the changelog remembers and the store restores
once and only once every word is counted
"""


def main() -> int:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP") or "127.0.0.1:9092"
    run = uuid.uuid4().hex[:6]
    source, sink, app_id = f"text-lines-{run}", f"word-counts-{run}", f"wordcount-{run}"
    admin = Admin(bootstrap)
    admin.ensure_topic(source, 2, {})
    admin.ensure_topic(sink, 2, {})
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP": bootstrap,
        "WORDCOUNT_APP_ID": app_id,
        "WORDCOUNT_INPUT": source,
        "WORDCOUNT_OUTPUT": sink,
        "WORDCOUNT_STATE_DIR": str(HERE / ".streamlet"),
    }
    print(
        f"describe:\n{subprocess.run([sys.executable, '-m', 'streamlet', 'describe', 'wordcount:app'], cwd=HERE, env=env, capture_output=True, text=True, check=True).stdout}"
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "streamlet", "run", "wordcount:app"], cwd=HERE, env=env
    )
    producer = Producer({"bootstrap.servers": bootstrap})
    lines = TEXT.splitlines() * 50
    for i, line in enumerate(lines):
        producer.produce(source, line.encode(), f"line-{i}".encode())
    producer.flush(30)
    expected = Counter(w for line in lines for w in line.lower().split())

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{run}",
            "isolation.level": "read_committed",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([sink])
    latest: dict[str, int] = {}
    deadline = time.monotonic() + 120
    started = time.monotonic()
    while latest != expected and time.monotonic() < deadline and worker.poll() is None:
        for msg in consumer.consume(1000, 0.5):
            if msg.error() is None:
                latest[msg.key().decode()] = int.from_bytes(msg.value(), "big", signed=True)
    consumer.close()
    worker.send_signal(signal.SIGTERM)
    code = worker.wait(60)
    ok = latest == dict(expected) and code == 0
    width = max(map(len, expected))
    for word, count in sorted(latest.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {word:<{width}}  {count}")
    print(
        f"{len(lines)} lines -> {len(latest)} words in {time.monotonic() - started:.1f} s; "
        f"worker exit {code}; counts {'match' if ok else 'DO NOT match'} the input"
    )
    admin.delete_topics([source, sink])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
