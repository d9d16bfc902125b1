"""The worker: one Kafka consumer in the group, wiring decode -> crop -> batch -> session -> publish.

Threads: this loop owns the consumer, the producer and every Session; each session's decoder,
the crop stage and the batcher run on their own threads and report back through ``events``.
Offsets are committed only up to the lowest offset whose result (and dead letter) the broker has
not acknowledged (``ledger``), so a crash or a rebalance replays unfinished sessions from their
first chunk. Each session's result is a function of its input partition alone (docs/streaming.md,
"One result per session"): a newly assigned partition is first restored from the result topic
(``restore``), timeouts take effect through markers in the input partition, and sessions with
no room are deferred and re-read (``flow``), never refused.
"""
from __future__ import annotations

import json
import logging
import os
import queue
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from kafka import KafkaConsumer, KafkaProducer, OffsetAndMetadata
from kafka.consumer.subscription_state import AsyncConsumerRebalanceListener
from kafka.errors import KafkaError

from fasstream.stream import protocol
from fasstream.stream.batcher import DynamicBatcher, LoadedModel, Pending, load_model
from fasstream.stream.claimcheck import fetch
from fasstream.stream.config import ConfigError, ServeConfig
from fasstream.stream.crop import CropStage, FaceCropper
from fasstream.stream.decode import InputError, Limits, SessionDecoder
from fasstream.stream.flow import ByteCount, Deferral
from fasstream.stream.ledger import OffsetLedger
from fasstream.stream.metrics import Metrics, serve_http
from fasstream.stream.restore import Answer, read_answered
from fasstream.stream.session import Session
from fasstream.stream.topics import ensure_topics

log = logging.getLogger(__name__)

_HEADROOM = 64 * 1024  # bytes of headers and framing above a chunk's value


@dataclass
class _Inflight:
    """Sends the broker has not acknowledged yet, and the offsets they cover."""

    sends: list  # (topic, producer.send keyword arguments)
    futures: list
    tp: object
    offsets: list[int]
    result: dict | None
    sent: float
    first_timestamp_ms: int


class _Rebalances(AsyncConsumerRebalanceListener):
    """Hands revoked partitions to the worker loop, first committing what their acknowledged results cover.

    The callbacks run on kafka-python's IO thread before the group rebalances. Committing there lets a
    partition's next owner start after the sessions this worker already answered instead of replaying
    them. Lost partitions (this member was evicted) can no longer be committed: they are handed over.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.revoked: set = set()
        self.commit_points: dict = {}  # TopicPartition -> offset, set by the worker loop
        self.consumer = None

    async def on_partitions_revoked(self, revoked):
        with self.lock:
            offsets = {tp: OffsetAndMetadata(self.commit_points[tp], "", -1)
                       for tp in revoked if tp in self.commit_points}
        if offsets and self.consumer is not None:
            try:
                await self.consumer.commit_async(offsets)
                log.info("committed %s before handing the partitions over",
                         {tp.partition: o.offset for tp, o in offsets.items()})
            except Exception as err:  # never break the rebalance: the next owner replays from the last commit
                log.warning("commit before rebalance failed: %s", err)
        self._hand_over(revoked)

    async def on_partitions_lost(self, lost):
        self._hand_over(lost)

    def _hand_over(self, partitions) -> None:
        with self.lock:
            self.revoked |= set(partitions)
            for tp in partitions:
                self.commit_points.pop(tp, None)

    async def on_partitions_assigned(self, assigned):
        if self.consumer is not None and assigned:  # no chunk before the worker loop restored them
            self.consumer.pause(*assigned)

    def set_commit_points(self, points: dict) -> None:
        with self.lock:
            self.commit_points = points

    def take(self) -> set:
        with self.lock:
            out, self.revoked = self.revoked, set()
        return out


class Worker:
    """A streaming verification worker; ``run()`` serves until ``stop()``."""

    def __init__(self, cfg: ServeConfig, loaded: LoadedModel | None = None, cropper: FaceCropper | None = None):
        self.cfg = cfg
        self.worker_id = cfg.worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.loaded = loaded or load_model(cfg.model, cfg.batch.device, cfg.batch.precision)
        self.cropper = cropper or FaceCropper.from_config(cfg.face_detector, str(self.loaded.device),
                                                          self.loaded.model.size, self.loaded.crop_scale,
                                                          self.loaded.stabilise, self.loaded.resample)
        self.face_stage = CropStage(self.cropper, self._on_crop, cfg.crop_threads, cfg.face_batch)
        lim = cfg.limits
        self.limits = Limits(frame_pixels=lim.frame_pixels, session_frames=lim.session_frames,
                             session_seconds=lim.session_seconds)
        self.metrics = Metrics()
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self.sessions: dict[str, Session] = {}
        self.answered: dict = {}  # TopicPartition -> session id -> Answer, for restored partitions only
        self.restoring: dict = {}  # TopicPartition -> Future of its restore
        self.deferrals: dict = {}  # TopicPartition -> Deferral
        self.clip_bytes = ByteCount()  # decoded frames and crops waiting for the crop and model stages
        self.ledger = OffsetLedger()
        self.inflight: list[_Inflight] = []
        self.paused = False  # over limits.buffered_bytes: every partition paused
        self.http = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._last_loop = time.monotonic()
        self._rebalances = _Rebalances()
        self._batcher: DynamicBatcher | None = None
        self._last_commit = 0.0
        self._assigned: list[int] = []
        self._committed: dict = {}
        self._restorer = ThreadPoolExecutor(1, thread_name_prefix="restore")
        self._starts: dict = {}  # TopicPartition -> offset committed before its restore (None: none yet)

    # ---- lifecycle -------------------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()

    def wait_ready(self, timeout: float) -> bool:
        """Whether the worker joined its group and restored a partition within ``timeout`` seconds."""
        return self._ready.wait(timeout)

    def run(self) -> None:
        k = self.cfg.kafka
        self._warm_up()
        counts = ensure_topics(k.bootstrap_servers, [k.input_topic, k.output_topic, k.dead_letter_topic],
                               k.partitions, k.client)
        if counts[k.output_topic] < counts[k.input_topic]:
            raise ConfigError(f"result topic {k.output_topic} has {counts[k.output_topic]} partitions, fewer than "
                              f"the {counts[k.input_topic]} of input topic {k.input_topic}; each input partition's "
                              "results go to the result partition of the same number. Fix: add partitions to "
                              f"{k.output_topic} (kafka-topics --alter --partitions {counts[k.input_topic]})")
        fetch_bytes = max(1 << 20, self.cfg.limits.chunk_bytes + _HEADROOM)
        self.consumer = KafkaConsumer(
            bootstrap_servers=k.bootstrap_servers, group_id=k.group_id, client_id=self.worker_id,
            enable_auto_commit=False, auto_offset_reset="earliest", session_timeout_ms=k.session_timeout_ms,
            heartbeat_interval_ms=k.heartbeat_interval_ms, max_poll_interval_ms=k.max_poll_interval_ms,
            max_partition_fetch_bytes=fetch_bytes, fetch_max_wait_ms=k.fetch_max_wait_ms, **k.client)
        self._rebalances.consumer = self.consumer
        self.consumer.subscribe([k.input_topic], listener=self._rebalances)
        self.producer = KafkaProducer(bootstrap_servers=k.bootstrap_servers, client_id=self.worker_id, acks="all",
                                      max_request_size=2 * fetch_bytes, **k.client)
        self._max_dead_letter = 2 * fetch_bytes - _HEADROOM
        self.face_stage.start()
        if self.cfg.metrics.port >= 0:
            self.http = serve_http(self.cfg.metrics.host, self.cfg.metrics.port, self.metrics, self.health)
        log.info("worker serving %s -> %s (group %s, model %s, device %s, metrics port %s)", k.input_topic,
                 k.output_topic, k.group_id, self.loaded.version, self.loaded.device,
                 self.http.server_port if self.http else "off", extra={"worker": self.worker_id})
        try:
            self._loop()
        finally:
            self._shutdown()

    def _warm_up(self) -> None:
        """Start the batcher, load the face detector and run the model once: the first session does not pay for them."""
        b = self.cfg.batch
        if b.threads and self.loaded.device.type == "cpu":
            torch.set_num_threads(b.threads)
        max_batch = b.max_batch or (16 if self.loaded.device.type == "cuda" else 1)
        self._batcher = DynamicBatcher(self.loaded, self._on_batch, max_batch, b.max_delay_ms)
        self.cropper.load()
        size = self.loaded.model.size
        self._batcher.predict(np.zeros((1, 4, size, size, 3), np.uint8))

    def _shutdown(self) -> None:
        tic = time.perf_counter()
        for s in list(self.sessions.values()):
            self._drop(s)
        try:
            self.producer.flush(10)
            self._check_publishes()
            self._commit(force=True)
        except KafkaError as err:
            log.warning("shutdown: %s", err, extra={"worker": self.worker_id})
        self.consumer.close()
        self.producer.close(5)
        self._restorer.shutdown(wait=False, cancel_futures=True)
        self._batcher.stop()
        self.face_stage.stop()
        if self.http:
            self.http.shutdown()
        log.info("worker stopped in %.1f s", time.perf_counter() - tic, extra={"worker": self.worker_id})

    def health(self) -> tuple[bool, dict]:
        stalled = time.monotonic() - self._last_loop > self.cfg.kafka.max_poll_interval_ms / 1000
        ok = bool(self._batcher and self._batcher.alive()) and not stalled and not self._stop.is_set()
        return ok, {"ok": ok, "worker": self.worker_id, "model_version": self.loaded.version,
                    "partitions": self._assigned, "ready": self._ready.is_set(),
                    "restoring": sorted(tp.partition for tp in self.restoring),
                    "open_sessions": len(self.sessions), "queued_clips": self._queued(),
                    "deferred_sessions": sum(len(d.sessions) for d in self.deferrals.values()),
                    "buffered_bytes": self._buffered(), "paused": self.paused}

    # ---- main loop -------------------------------------------------------------------------------
    def _loop(self) -> None:
        k = self.cfg.kafka
        next_gauges = 0.0
        while not self._stop.is_set():
            # a result may be due (an ended session, an unacknowledged send): look at the events again soon
            due = self.inflight or any(s.ended or s.timed_out for s in self.sessions.values())
            records = self.consumer.poll(timeout_ms=min(k.poll_ms, 5) if due else k.poll_ms)
            self._last_loop = time.monotonic()
            for tp in self._rebalances.take():
                self._revoke(tp)
            self._restore()
            for tp, messages in records.items():
                if tp not in self.answered:  # fetched before the pause took hold: read again once restored
                    self._seek(tp, messages[0].offset)
                    continue
                for message in messages:
                    self._on_message(tp, message)
            self._drain_events()
            self._expire()
            self._check_publishes()
            self._commit()
            self._reread()
            self._flow()
            if self._last_loop >= next_gauges:
                self._gauges()
                next_gauges = self._last_loop + 1.0

    def _revoke(self, tp) -> None:
        dropped = [s for s in self.sessions.values() if s.tp == tp]
        for s in dropped:
            self._drop(s)
        self.ledger.drop(tp)
        self._committed.pop(tp, None)
        self.answered.pop(tp, None)
        self.restoring.pop(tp, None)
        self._starts.pop(tp, None)
        self.deferrals.pop(tp, None)
        self.metrics.rebalances.inc()
        log.info("partition %d revoked: %d open sessions dropped, its new owner replays them", tp.partition,
                 len(dropped), extra={"worker": self.worker_id, "partition": tp.partition})

    def _drop(self, s: Session) -> None:
        s.closed = True
        if s.decoder is not None:
            s.decoder.cancel()
        self.sessions.pop(s.sid, None)

    # ---- input -----------------------------------------------------------------------------------
    def _restore(self) -> None:
        """Restore newly assigned partitions (paused meanwhile); take the restores that finished.

        A restored partition is then read from the offset committed *before* its restore began (so every
        result covering an offset below it is in the restore), even if kafka-python kept the position of a
        partition that a rebalance revoked and gave back: its sessions were dropped with the revocation.
        """
        assigned = self.consumer.assignment()
        for tp in set(self.answered) | set(self.restoring):
            if tp not in assigned:  # restored from an assignment that was already changing
                self._revoke(tp)
        new = sorted((tp for tp in assigned if tp not in self.answered and tp not in self.restoring),
                     key=lambda tp: tp.partition)
        if new:
            try:
                starts = {tp: self.consumer.committed(tp) for tp in new}
            except KafkaError as err:  # e.g. the coordinator moving: try again on the next loop
                log.warning("committed offsets unavailable: %s", err, extra={"worker": self.worker_id})
                starts = None
        if new and starts is not None:
            k = self.cfg.kafka
            future = self._restorer.submit(read_answered, k.bootstrap_servers, k.output_topic,
                                           [tp.partition for tp in new], k.client)
            self.restoring.update(dict.fromkeys(new, future))
            self._starts.update(starts)
        for tp, future in list(self.restoring.items()):
            if not future.done():
                continue
            del self.restoring[tp]
            committed = self._starts.pop(tp, None)
            try:
                answers = future.result()[tp.partition]
            except Exception as err:  # stays paused; restored again on the next loop
                log.error("restoring partition %d failed: %s", tp.partition, err,
                          extra={"worker": self.worker_id, "partition": tp.partition})
                continue
            if committed is None:
                self.consumer.seek_to_beginning(tp)
            else:
                self._seek(tp, committed)
            self.answered[tp], self.deferrals[tp] = answers, Deferral()
            self._ready.set()
        self._assigned = sorted(tp.partition for tp in assigned)

    def _on_message(self, tp, message) -> None:
        sid = protocol.session_of(message.key, message.headers)
        deferral = self.deferrals[tp]
        if deferral.seen(message.offset, sid):
            return  # a re-read met a message handled before its seek-back
        self.ledger.hold(tp, message.offset)
        if deferral.defers(sid):
            deferral.defer(sid, message.offset)
            return
        marker = protocol.parse_marker(message.headers)
        if marker is not None:
            self._on_marker(tp, message, marker)
            return
        self.metrics.chunks.inc()
        if sid in self.answered[tp]:
            self._replayed(tp, message, sid)
            return
        s = self.sessions.get(sid)
        if s is None and sid and (deferral.sessions or len(self.sessions) >= self.cfg.limits.open_sessions):
            deferral.defer(sid, message.offset)  # no room now: read again later, in order
            self.metrics.deferred.inc()
            return
        try:
            chunk = protocol.parse_chunk(message.key, message.value, message.headers)
        except InputError as err:
            if s is None and sid:
                self.metrics.received.inc()
                s = self._new_session(sid, tp, message, None)
            if s is None:  # no session to answer: dead-letter the message alone
                self._publish(tp, [message.offset], None, None, self._dead_letter(message, err), message.timestamp)
            else:
                s.offsets.append(message.offset)
                self._fail(s, err, message)
            return
        if s is None:
            self.metrics.received.inc()
            s = self._new_session(sid, tp, message, chunk)
        s.offsets.append(message.offset)
        s.last_chunk = message.offset
        s.last_message = message
        s.last_seen = time.monotonic()
        try:
            s.check_seq(chunk.seq)
            if s.face_box is None and self.cfg.face_detector == "client":
                raise InputError("no_face_box", f"session {sid}: this worker uses the clients' face boxes only "
                                                "(face_detector: client); send the face-box header 'x0,y0,size' "
                                                "with the first chunk, or use workers with face_detector: mtcnn")
            data = self._chunk_bytes(chunk, len(message.value or b""))
            if s.decoder is None:
                s.decoder = SessionDecoder(sid, chunk.container, self.limits, on_clip=lambda c, s=s: self._on_clip(
                    s, c), on_done=lambda *a, s=s: self.events.put(("decoded", s, *a)))
            elif chunk.container != s.container:
                raise InputError("bad_header", f"session {sid}: chunk {chunk.seq} says container {chunk.container} "
                                               f"but the session started as {s.container}; keep one container")
        except InputError as err:
            self._fail(s, err, message)
            return
        s.chunks += 1
        s.bytes += len(data)
        s.decoder.feed(data)
        if chunk.end:
            s.ended = True
            s.decoder.close()

    def _new_session(self, sid: str, tp, message, chunk) -> Session:
        s = Session(sid=sid, tp=tp, container=chunk.container if chunk else "", face_box=chunk.face_box if chunk else None,
                    trace_id=chunk.trace_id if chunk else None, first_timestamp_ms=message.timestamp)
        self.sessions[sid] = s
        return s

    def _chunk_bytes(self, chunk: protocol.Chunk, size: int) -> bytes:
        lim = self.cfg.limits
        if size > lim.chunk_bytes:
            raise InputError("chunk_too_large", f"session {chunk.session}: chunk {chunk.seq} holds {size} bytes, "
                                                f"over limits.chunk_bytes={lim.chunk_bytes}; send smaller chunks or "
                                                "a claim check (content-ref header)")
        if chunk.ref:
            return fetch(chunk.ref, self.cfg.claim_check.allow, lim.ref_bytes)
        return chunk.data

    def _on_marker(self, tp, message, marker: protocol.TimeoutMarker) -> None:
        """A timeout marker ends its session only if no chunk of it came after the one the marker names."""
        s = self.sessions.get(marker.session)
        if s is None or s.ended or s.timed_out or s.error is not None or s.last_chunk != marker.after_offset:
            self.ledger.release(tp, [message.offset])  # void: answered, unknown, or chunks came since
            return
        s.offsets.append(message.offset)
        s.timed_out = True
        log.info("session timed out: no chunk after offset %d", marker.after_offset,
                 extra={"session": s.sid, "status": "timeout"})
        if s.decoder is None:
            self._finish(s, None)
        else:
            s.decoder.close()

    def _replayed(self, tp, message, sid: str) -> None:
        """A message of a session already answered: a client's new delivery of its first chunk gets the
        first answer again; anything else (a replay of the log, a late chunk) is released unanswered."""
        answer: Answer = self.answered[tp][sid]
        seq = protocol.header_dict(message.headers).get(protocol.SEQ)
        if seq == "0" and answer.first_offset is not None and message.offset != answer.first_offset:
            self.metrics.redelivered.inc()
            log.info("session delivered again: republishing its result", extra={"session": sid})
            self._publish(tp, [message.offset], json.loads(answer.value), answer.value, None, message.timestamp)
        else:
            self.ledger.release(tp, [message.offset])

    def _on_clip(self, s: Session, clip) -> None:
        self.clip_bytes.add(clip.frames.nbytes)
        self.face_stage.put(s, clip)

    # ---- stage events ----------------------------------------------------------------------------
    def _on_crop(self, s: Session, clip, crop, face: float, error) -> None:
        """The face stage's result for one clip (on a stage thread): to the model, or counted faceless."""
        self.clip_bytes.add(-clip.frames.nbytes)
        if s.closed:
            return
        if error is not None:  # e.g. a degenerate face-box header
            log.warning("crop failed: %s", error, extra={"session": s.sid})
        if crop is None:
            self.events.put(("faceless", s, clip.index, face))
        else:
            self.clip_bytes.add(crop.nbytes)
            self._batcher.submit(Pending(owner=(s, face), clip_index=clip.index, crop=crop,
                                         enqueued=time.perf_counter()))

    def _on_batch(self, items: list[Pending], scores, waits: list[float], seconds: float) -> None:
        self.metrics.stage.labels("model_batch").observe(seconds)
        self.metrics.batch_size.observe(len(items))
        for item, value, wait in zip(items, scores, waits):
            self.clip_bytes.add(-item.crop.nbytes)
            s, face = item.owner
            self.events.put(("scored", s, item.clip_index, float(value), face, wait, seconds / len(items)))

    def _drain_events(self) -> None:
        touched = set()
        while True:
            try:
                kind, s, *rest = self.events.get_nowait()
            except queue.Empty:
                break
            if self.sessions.get(s.sid) is not s:
                continue  # dropped or already answered
            if kind == "decoded":
                frames, clips, error, busy = rest
                s.frames, s.clips = frames, clips
                s.timings["decode"] = busy
                self.metrics.stage.labels("decode").observe(busy)
                if error is not None and not s.timed_out:
                    s.fail(error)
            elif kind == "faceless":
                clip_index, face = rest
                s.faceless += 1
                s.timings["face"] += face
            else:
                clip_index, value, face, wait, model = rest
                s.scores[clip_index] = value
                s.timings["face"] += face
                s.timings["queue"] += wait
                s.timings["model"] += model
                self.metrics.stage.labels("face").observe(face)
                self.metrics.stage.labels("queue").observe(wait)
            touched.add(s)
        for s in touched:
            if s.ready():
                self._finish(s, None)

    def _expire(self) -> None:
        """Append a timeout marker for each session that had no chunk for ``limits.session_timeout_s``.

        The session times out when the marker is read back, and only if no chunk of it came in between,
        so a worker that lagged or was frozen cannot time out a session whose chunks did arrive.
        """
        if self.paused:
            return  # chunks wait in the broker, not at the client
        now, limit = time.monotonic(), self.cfg.limits.session_timeout_s
        for s in self.sessions.values():
            if s.ended or s.timed_out or s.error is not None or now - s.last_seen <= limit:
                continue
            if s.marker_sent is not None and now - s.marker_sent <= limit:
                continue  # one marker per quiet period (a lost one is sent again)
            s.marker_sent = now
            key, value, headers = protocol.timeout_marker(s.sid, s.last_chunk)
            self.producer.send(self.cfg.kafka.input_topic, key=key, value=value, headers=headers,
                               partition=s.tp.partition)

    # ---- output ----------------------------------------------------------------------------------
    def _fail(self, s: Session, error: InputError, message) -> None:
        s.fail(error)
        self.metrics.failed.labels(error.reason).inc()
        log.warning("%s", error, extra={"session": s.sid, "reason": error.reason, "offset": message.offset})
        self._finish(s, self._dead_letter(message, error))

    def _finish(self, s: Session, dead_letter) -> None:
        self._drop(s)
        result = s.result(self.loaded.threshold, self.loaded.version, self.worker_id, self.loaded.aggregate)
        if result["status"] == "error" and dead_letter is None:  # found at the end (no face, too few frames...)
            self.metrics.failed.labels(result["reason"]).inc()
            if s.last_message is not None:
                dead_letter = self._dead_letter(s.last_message, InputError(result["reason"], result["message"]))
        result["source"] = {"topic": self.cfg.kafka.input_topic, "partition": s.tp.partition,
                            "offsets": [min(s.offsets), max(s.offsets)]}
        result["timings_ms"]["end_to_end"] = max(0, int(time.time() * 1000) - s.first_timestamp_ms)
        value = protocol.encode_result(result)
        self.answered[s.tp][s.sid] = Answer(value, min(s.offsets))
        self._publish(s.tp, s.offsets, result, value, dead_letter, s.first_timestamp_ms)

    def _dead_letter(self, message, error: InputError) -> tuple:
        value = message.value or b""
        headers = list(message.headers or []) + [
            ("error-reason", error.reason.encode()), ("error-message", str(error).encode()),
            ("source-topic", message.topic.encode()), ("source-partition", str(message.partition).encode()),
            ("source-offset", str(message.offset).encode())]
        if len(value) > self._max_dead_letter:
            headers.append(("value-dropped", str(len(value)).encode()))
            value = b""
        return message.key, value, headers

    def _publish(self, tp, offsets, result: dict | None, value: bytes | None, dead_letter,
                 first_timestamp_ms: int) -> None:
        """Send a result (to the result partition numbered like ``tp``) and a dead letter; ``offsets`` stay
        held until the broker acknowledged both."""
        k = self.cfg.kafka
        sends = []
        if result is not None:
            sends.append((k.output_topic, {"key": result["session_id"].encode(), "value": value,
                                           "headers": protocol.result_headers(result), "partition": tp.partition}))
            log.info("result %s %s score %s", result["status"], result["decision"], result["score"],
                     extra={"session": result["session_id"], "status": result["status"]})
        if dead_letter is not None:
            key, dl_value, headers = dead_letter
            sends.append((k.dead_letter_topic, {"key": key, "value": dl_value, "headers": headers}))
            self.metrics.dead_letters.inc()
        futures = [self.producer.send(topic, **kw) for topic, kw in sends]
        self.inflight.append(_Inflight(sends, futures, tp, list(offsets), result, time.perf_counter(),
                                       first_timestamp_ms))

    def _check_publishes(self) -> None:
        waiting = []
        for item in self.inflight:
            if not all(f.is_done for f in item.futures):
                waiting.append(item)
                continue
            failed = [f.exception for f in item.futures if f.failed()]
            if failed:  # the producer gave up after its own retries: send again, the offsets stay held
                log.error("publish failed (%s); sending again", failed[0], extra={"worker": self.worker_id})
                item.futures = [self.producer.send(topic, **kw) for topic, kw in item.sends]
                waiting.append(item)
                continue
            self.ledger.release(item.tp, item.offsets)
            self.metrics.stage.labels("publish").observe(time.perf_counter() - item.sent)
            if item.result is not None:
                self.metrics.done.labels(item.result["status"]).inc()
                self.metrics.stage.labels("end_to_end").observe(max(0.0, time.time() - item.first_timestamp_ms / 1000))
        self.inflight = waiting

    def _commit(self, force: bool = False) -> None:
        points = {tp: self.ledger.commit_point(tp) for tp in self.ledger.partitions()}
        self._rebalances.set_commit_points(points)  # committed by the listener if a rebalance comes first
        now = time.monotonic()
        if not force and now - self._last_commit < self.cfg.kafka.commit_interval_ms / 1000:
            return
        self._last_commit = now
        committed = self._committed
        offsets = {tp: OffsetAndMetadata(point, "", -1) for tp, point in points.items()
                   if point > committed.get(tp, -1)}
        if not offsets:
            return
        try:
            self.consumer.commit(offsets)
        except KafkaError as err:  # e.g. a rebalance under way: the next owner replays from the last commit
            log.warning("commit failed: %s", err, extra={"worker": self.worker_id})
            return
        committed.update({tp: o.offset for tp, o in offsets.items()})

    # ---- flow control and gauges -----------------------------------------------------------------
    def _queued(self) -> int:
        return self.face_stage.depth() + (self._batcher.depth() if self._batcher else 0)

    def _buffered(self) -> int:
        """Bytes held in memory for open sessions: chunks not yet demuxed, frames and crops not yet scored."""
        return self.clip_bytes.value + sum(s.decoder.pending_bytes for s in self.sessions.values() if s.decoder)

    def _reread(self) -> None:
        """Seek partitions back to their deferred sessions once half of ``limits.open_sessions`` is free."""
        if len(self.sessions) > self.cfg.limits.open_sessions // 2:
            return
        for tp, deferral in self.deferrals.items():
            if deferral.can_reread() and tp not in self.restoring:
                start = deferral.reread()
                self._seek(tp, start)
                log.info("partition %d: re-reading deferred sessions from offset %d", tp.partition, start,
                         extra={"worker": self.worker_id, "partition": tp.partition})

    def _seek(self, tp, offset: int) -> None:
        try:
            self.consumer.seek(tp, offset)
        except ValueError:  # revoked meanwhile: its next owner reads it from the committed offset
            log.info("partition %d no longer assigned; not sought", tp.partition, extra={"worker": self.worker_id})

    def _flow(self) -> None:
        """Pause partitions being restored, and all of them while more than ``limits.buffered_bytes`` are held.

        Pausing for bytes cannot stall a session: what is buffered drains through decode and the model
        without new chunks. Room for sessions is never made by pausing (``flow.py`` defers them instead).
        """
        high = self.cfg.limits.buffered_bytes
        buffered = self._buffered()
        if not self.paused and buffered > high:
            self.paused = True
            log.info("paused: %d bytes buffered", buffered, extra={"worker": self.worker_id})
        elif self.paused and buffered <= high // 2:
            self.paused = False
        assigned = self.consumer.assignment()
        want = set(assigned) if self.paused else {tp for tp in assigned if tp not in self.answered}
        paused = self.consumer.paused()
        if want - paused:
            self.consumer.pause(*(want - paused))
        if paused - want:
            self.consumer.resume(*(paused - want))

    def _gauges(self) -> None:
        self.metrics.open_sessions.set(len(self.sessions))
        self.metrics.queued_clips.set(self._queued())
        for tp in self.ledger.partitions():
            high = self.consumer.highwater(tp)
            point = self.ledger.commit_point(tp)
            if high is not None and point is not None:
                self.metrics.lag.labels(str(tp.partition)).set(max(0, high - point))
