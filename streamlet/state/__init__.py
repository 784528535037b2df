"""State stores: bytes-level backends, the per-task write buffer, and typed access.

Layers, bottom up: a ``BytesStore`` backend (``MemoryStore``, ``RocksDBStore``) knows only
bytes and an opaque changelog offset; ``BufferedStore`` holds a task's writes until commit
with read-your-writes; ``KeyValueStore`` adds the key and value serdes a processor sees.
"""

from streamlet.state.base import BytesStore
from streamlet.state.buffered import BufferedStore
from streamlet.state.memory import MemoryStore
from streamlet.state.rocksdb import RocksDBOptions, RocksDBStore
from streamlet.state.typed import KeyValueStore

__all__ = [
    "BufferedStore",
    "BytesStore",
    "KeyValueStore",
    "MemoryStore",
    "RocksDBOptions",
    "RocksDBStore",
]
