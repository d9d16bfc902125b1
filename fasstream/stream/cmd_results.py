"""``fasstream results``: print the result topic as JSON lines."""
from __future__ import annotations

import argparse
import json
import os

from fasstream.stream import protocol


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bootstrap-servers", default=os.environ.get("FASSTREAM_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    parser.add_argument("--topic", default=protocol.OUTPUT_TOPIC)
    parser.add_argument("--from-beginning", action="store_true", help="start at the oldest result, not the newest")
    parser.add_argument("--count", type=int, default=0, help="stop after this many results (0: never)")
    parser.add_argument("--idle-timeout", type=float, default=0.0, help="stop after this many seconds without one")
    parser.add_argument("--connect-timeout", type=float, default=30.0, help="seconds to reach the broker")


def run(args: argparse.Namespace) -> int:
    from kafka.errors import KafkaError

    from fasstream.stream.client import results, results_consumer

    if args.count < 0 or args.idle_timeout < 0 or args.connect_timeout <= 0:
        raise SystemExit("fasstream results: --count and --idle-timeout must be 0 (no limit) or more, "
                         "--connect-timeout more than 0")
    try:
        consumer = results_consumer(args.bootstrap_servers, args.topic, args.from_beginning,
                                    bootstrap_timeout_ms=int(1000 * args.connect_timeout))
    except KafkaError as err:
        raise SystemExit(f"fasstream results: no Kafka broker at {args.bootstrap_servers} ({err}); start one or "
                         "pass --bootstrap-servers HOST:PORT") from None
    try:
        for n, result in enumerate(results(consumer, args.idle_timeout or None), 1):
            print(json.dumps(result, sort_keys=True), flush=True)
            if n == args.count:
                break
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    return 0
