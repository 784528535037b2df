"""Thin wrappers around confluent-kafka: config assembly, admin, error translation."""
