"""The streamlet exception tree. Every error streamlet raises is a ``StreamletError``.

::

    StreamletError                    root; carries topic/partition/offset when known
    ├── ConfigError                   invalid App / worker configuration
    ├── TopologyError                 a topology that cannot be built (missing name, bad wiring)
    ├── LocateError                   ``streamlet run module:attr`` could not find its target
    ├── TopicError                    a topic is missing or does not match what the topology needs
    ├── SerializationError            a key or value could not be (de)serialized
    ├── ProcessingError               a user function raised; names processor, function, line
    ├── ProductionError               an output record could not be serialized or produced
    ├── StateError                    a store could not be opened, locked, read or restored
    │   └── StoreLockedError          another process holds the store's lock
    └── TransactionError              the exactly-once protocol could not complete
        └── ProducerFencedError       another worker took over this worker's transactional id
            └── InstanceFencedError   … or its static group membership (group.instance.id)

Control flow (a rebalance, a requested shutdown) is not signalled with these.
"""

from __future__ import annotations


class StreamletError(Exception):
    """Root of every streamlet error; ``topic``/``partition``/``offset`` say which record."""

    def __init__(
        self,
        message: str,
        *,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.topic = topic
        self.partition = partition
        self.offset = offset

    def __str__(self) -> str:
        where = self.location()
        return f"{self.message} [{where}]" if where else self.message

    def location(self) -> str:
        """``topic=… partition=… offset=…`` for the parts that are known."""
        parts = [
            f"{name}={value}"
            for name, value in (
                ("topic", self.topic),
                ("partition", self.partition),
                ("offset", self.offset),
            )
            if value is not None
        ]
        return " ".join(parts)


class ConfigError(StreamletError):
    """An App or worker setting is invalid."""


class TopologyError(StreamletError):
    """The topology cannot be built as declared."""


class LocateError(StreamletError):
    """The ``module:attr`` target of the CLI could not be located."""


class TopicError(StreamletError):
    """A topic is missing, or exists in a shape the topology cannot use."""


class BrokerUnavailableError(StreamletError):
    """No broker answered at the bootstrap servers within the start-up probe's timeout."""


class SerializationError(StreamletError):
    """A key or value could not be serialized or deserialized."""


class ProcessingError(StreamletError):
    """A user function raised while processing a record.

    ``processor`` is the node's name; ``function`` the user function's qualified name and
    ``line`` its first line, so the message points at the code and the record at once.
    """

    def __init__(
        self,
        message: str,
        *,
        processor: str | None = None,
        function: str | None = None,
        line: int | None = None,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
    ) -> None:
        super().__init__(message, topic=topic, partition=partition, offset=offset)
        self.processor = processor
        self.function = function
        self.line = line


class ProductionError(StreamletError):
    """An output record could not be serialized or produced; ``processor`` names the sink."""

    def __init__(self, message: str, *, processor: str | None = None) -> None:
        super().__init__(message)
        self.processor = processor


class StateError(StreamletError):
    """A state store could not be opened, locked, read, written or restored."""


class StoreLockedError(StateError):
    """Another process has the store open; two workers never share a store."""


class TransactionError(StreamletError):
    """The commit protocol failed; the transaction was (or must be) aborted.

    ``fatal`` means the producer is unusable and must be re-created."""

    def __init__(self, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal


class ProducerFencedError(TransactionError):
    """A newer worker with this transactional id exists; this one must stop committing."""


class InstanceFencedError(ProducerFencedError):
    """Another live process joined the group with this worker's ``group.instance.id`` (its
    identity, under static membership); this one must stop. Unlike a producer fence, never
    the coordinator's timeout abort of a slow transaction."""

    def __init__(self, message: str) -> None:
        super().__init__(message, fatal=True)
