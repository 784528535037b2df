"""streamlet: exactly-once stream processing on Apache Kafka, in the style of Kafka Streams."""

__version__ = "0.1.0"

__all__ = ["__version__"]
