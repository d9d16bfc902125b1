"""Client side of the protocol: send local videos as sessions, read results back."""
from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Iterator

from kafka import KafkaConsumer, KafkaProducer

from fasstream.stream import protocol
from fasstream.stream.chunker import video_chunks


def session_chunks(session: str, chunks: list[bytes], container: str, face_box=None, trace_id: str | None = None):
    """``(key, value, headers)`` of every chunk of one session, the last flagged ``end``."""
    for seq, data in enumerate(chunks):
        yield session.encode(), data, protocol.chunk_headers(session, seq, container, seq == len(chunks) - 1,
                                                             face_box, trace_id)


def send_videos(producer: KafkaProducer, topic: str, videos: dict[str, Path], container: str = "mpegts",
                chunk_bytes: int = 64 * 1024, interval_s: float = 0.0, face_box=None) -> dict[str, float]:
    """Send each video as a session (``videos`` maps session id -> path), chunks of all sessions interleaved
    like concurrent cameras, ``interval_s`` between rounds; returns each session's send time of its last chunk.
    ``face_box`` (x0, y0, size), when given, goes with every session.

    Raises the producer's error (a KafkaError) when the broker did not take a chunk.
    """
    streams = {sid: list(session_chunks(sid, video_chunks(path, container, chunk_bytes), container, face_box,
                                        trace_id=uuid.uuid4().hex[:16])) for sid, path in videos.items()}
    finished, futures, step = {}, [], 0
    while streams:
        for sid in list(streams):
            key, value, headers = streams[sid][step]
            futures.append(producer.send(topic, key=key, value=value, headers=headers))
            if step == len(streams[sid]) - 1:
                finished[sid] = time.time()
                del streams[sid]
        step += 1
        if interval_s:
            time.sleep(interval_s)
    producer.flush()
    for future in futures:
        future.get()  # raises what the broker answered
    return finished


def results(consumer: KafkaConsumer, timeout_s: float | None = None) -> Iterator[dict]:
    """Result messages as dicts until ``timeout_s`` passes without one (forever when None)."""
    idle_since = time.monotonic()
    while timeout_s is None or time.monotonic() - idle_since < timeout_s:
        for messages in consumer.poll(timeout_ms=200).values():
            for message in messages:
                idle_since = time.monotonic()
                yield json.loads(message.value)


def results_consumer(bootstrap_servers: str, topic: str = protocol.OUTPUT_TOPIC, from_beginning: bool = True,
                     **client) -> KafkaConsumer:
    """A consumer of the result topic outside any group (it reads every partition)."""
    return KafkaConsumer(topic, bootstrap_servers=bootstrap_servers, group_id=None, enable_auto_commit=False,
                         auto_offset_reset="earliest" if from_beginning else "latest", **client)
