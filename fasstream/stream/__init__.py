"""Streaming verification: video chunks from Kafka in, one live/spoof result per session out.

Stages (each a module): ``protocol`` (message headers and results), ``decode`` (one PyAV decoder
per session), ``crop`` (face box and 256x256 crops), ``batcher`` (dynamic model batches; ``fold``,
the CPU serving copy of the model), ``session`` (per-session state and its result), ``ledger``
(which offsets may be committed), ``restore`` (answered sessions read back from the result topic),
``flow`` (deferred sessions, bytes buffered), ``worker`` (the Kafka loop that wires them). Outside
the worker: ``workers`` (serve processes watched through /healthz) and ``chaos`` (fault injection
and the one-result audit). See docs/streaming.md.
"""
