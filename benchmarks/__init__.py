"""Benchmarks: streamlet next to Quix Streams, Kafka Streams and a bare confluent-kafka ceiling.

Run ``python -m benchmarks.run --help``; ``benchmarks/README.md`` defines every figure.
"""
