"""Testing utilities: ``TopologyTestDriver`` runs a topology without a broker.

It drives the runtime's own tasks and compiled processors; only the Kafka client and the
commit are replaced by in-memory equivalents. See ``docs/testing.md`` for a worked example.
"""

from streamlet.testing.driver import TopologyTestDriver
from streamlet.testing.topics import InputTopic, OutputTopic

__all__ = ["InputTopic", "OutputTopic", "TopologyTestDriver"]
