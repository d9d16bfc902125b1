"""Kafka clients and topics shared by the worker, the client commands, the demo and the tests."""
from __future__ import annotations

import logging

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

log = logging.getLogger(__name__)


def ensure_topics(bootstrap_servers: str, topics: list[str], partitions: int = 4,
                  client: dict | None = None) -> dict[str, int]:
    """Create the ``topics`` that do not exist yet, with ``partitions`` partitions each; returns each one's count."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, **(client or {}))
    try:
        missing = sorted(set(topics) - set(admin.list_topics()))
        for topic in missing:
            try:
                admin.create_topics([NewTopic(topic, partitions, 1)])
                log.info("created topic %s with %d partitions", topic, partitions)
            except TopicAlreadyExistsError:
                pass
        return {t["name"]: len(t["partitions"]) for t in admin.describe_topics(list(topics))}
    finally:
        admin.close()
