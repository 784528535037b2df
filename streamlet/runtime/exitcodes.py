"""Exit statuses of ``streamlet run``, for a worker and for the ``--workers N`` supervisor.

=====  ===============================================================================
0      stopped cleanly (SIGTERM/SIGINT)
1      an error a restart may cure (a transaction or state failure): the supervisor
       replaces the worker
65     a record failed under the FAIL error policy (the error names topic/partition/offset)
66     fenced: another process now owns this worker's transactional id
70     the supervisor gave up: workers kept dying (more than 5 restarts within 60 s)
78     configuration, topology or topic error: fix it, a restart cannot
=====  ===============================================================================

A worker killed by a signal (SIGKILL, the OOM killer) is replaced like status 1. The
supervisor stops every worker and exits with 65, 66 or 78 when a worker exits with it.
"""

from __future__ import annotations

from streamlet.errors import (
    ConfigError,
    LocateError,
    ProcessingError,
    ProducerFencedError,
    ProductionError,
    SerializationError,
    StreamletError,
    TopicError,
    TopologyError,
)

EXIT_OK = 0
EXIT_RESTARTABLE = 1
EXIT_RECORD_FAILED = 65
EXIT_FENCED = 66
EXIT_RESTARTS_EXHAUSTED = 70
EXIT_CONFIG = 78

FATAL = frozenset({EXIT_RECORD_FAILED, EXIT_FENCED, EXIT_CONFIG})
"""Statuses a restart cannot cure: the supervisor stops the app with them."""


def status_for(exc: StreamletError) -> int:
    """The exit status of a worker that stopped on ``exc``."""
    if isinstance(exc, ProducerFencedError):
        return EXIT_FENCED
    if isinstance(exc, (ConfigError, TopologyError, LocateError, TopicError)):
        return EXIT_CONFIG
    if isinstance(exc, (ProcessingError, SerializationError, ProductionError)):
        return EXIT_RECORD_FAILED
    return EXIT_RESTARTABLE
