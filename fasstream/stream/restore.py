"""The answered sessions of input partitions, read back from the result topic (a changelog restore).

Results are written to the result-topic partition with the number of the input partition they
answer, so one result partition holds every answer ever given for one input partition. A worker
that is assigned an input partition reads that result partition to its end before it reads any
chunk, the way Kafka Streams restores a state store from its changelog (docs/streaming.md).
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    """The first result published for a session: its encoded value and the input offset of its first chunk."""

    value: bytes
    first_offset: int | None


def read_answered(bootstrap_servers: str, topic: str, partitions: list[int], client: dict,
                  timeout_s: float = 60.0) -> dict[int, dict[str, Answer]]:
    """Partition -> session id -> :class:`Answer`, from the result ``topic``'s ``partitions`` read to their ends.

    The end is where both the partition's listed end offset and the high watermark of the last
    fetch lie behind the read position, and one more fetch brought nothing (tansu's listed end can
    lag). Raises TimeoutError after ``timeout_s``.
    """
    tic = time.monotonic()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None, enable_auto_commit=False, **client)
    try:
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        answered: dict[int, dict[str, Answer]] = {p: {} for p in partitions}
        while True:
            batch = consumer.poll(timeout_ms=200)
            for tp, messages in batch.items():
                for m in messages:
                    _add(answered[tp.partition], m)
            if not batch and all(consumer.position(tp) >= max(ends[tp], consumer.highwater(tp) or 0) for tp in tps):
                break
            if time.monotonic() - tic > timeout_s:
                raise TimeoutError(f"result topic {topic} partitions {partitions} not read to their end in "
                                   f"{timeout_s:.0f} s")
    finally:
        consumer.close()
    log.info("restored %d answered sessions of partitions %s in %.2f s", sum(map(len, answered.values())),
             partitions, time.monotonic() - tic)
    return answered


def _add(answers: dict[str, Answer], message) -> None:
    try:
        result = json.loads(message.value)
        sid = result["session_id"]
    except (ValueError, TypeError, KeyError):
        log.warning("result topic offset %d holds no result; skipped", message.offset)
        return
    if sid not in answers:  # the first answer is the one; later copies repeat it
        offsets = (result.get("source") or {}).get("offsets") or [None]
        answers[sid] = Answer(message.value, offsets[0])
