"""streamlet: exactly-once stream processing on Apache Kafka, in the style of Kafka Streams.

The public surface is exactly what ``__all__`` lists; everything else is private.
"""

from streamlet import serde
from streamlet.app import App
from streamlet.config import AT_LEAST_ONCE, EXACTLY_ONCE_V2, AppConfig, ErrorPolicies, ErrorPolicy
from streamlet.errors import (
    BrokerUnavailableError,
    ConfigError,
    LocateError,
    ProcessingError,
    ProducerFencedError,
    ProductionError,
    SerializationError,
    StateError,
    StoreLockedError,
    StreamletError,
    TopicError,
    TopologyError,
    TransactionError,
)
from streamlet.processor import Processor, ProcessorContext, Punctuation
from streamlet.record import Headers, Record
from streamlet.topology.global_table import GlobalTable
from streamlet.topology.stream import GroupedStream, Splitter, Stream, Table
from streamlet.topology.topology import Topology
from streamlet.topology.windowed import SessionWindowedStream, WindowedStream
from streamlet.topology.windows import (
    Emit,
    HoppingWindows,
    JoinWindows,
    SessionWindows,
    SlidingWindows,
    TumblingWindows,
    Windowed,
)

__version__ = "0.1.0"

__all__ = [
    "AT_LEAST_ONCE",
    "EXACTLY_ONCE_V2",
    "App",
    "AppConfig",
    "BrokerUnavailableError",
    "ConfigError",
    "Emit",
    "ErrorPolicies",
    "ErrorPolicy",
    "GlobalTable",
    "GroupedStream",
    "Headers",
    "HoppingWindows",
    "JoinWindows",
    "LocateError",
    "ProcessingError",
    "Processor",
    "ProcessorContext",
    "ProducerFencedError",
    "ProductionError",
    "Punctuation",
    "Record",
    "SerializationError",
    "SessionWindowedStream",
    "SessionWindows",
    "SlidingWindows",
    "Splitter",
    "StateError",
    "StoreLockedError",
    "Stream",
    "StreamletError",
    "Table",
    "TopicError",
    "Topology",
    "TopologyError",
    "TransactionError",
    "TumblingWindows",
    "Windowed",
    "WindowedStream",
    "__version__",
    "serde",
]
