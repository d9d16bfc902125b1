"""``fasstream serve --bootstrap-servers HOST:PORT [--model CKPT]``: one streaming verification worker."""
from __future__ import annotations

import argparse
import signal
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="worker YAML (default pipelines/serve/worker.yaml)")
    parser.add_argument("--bootstrap-servers", help="Kafka bootstrap servers, host:port[,host:port]")
    parser.add_argument("--model", help="training checkpoint (.pt); default: the config's model, else the committed "
                                         "pipelines/models/tiny.pt (as verify and demo)")
    parser.add_argument("--group-id", help="consumer group shared by all workers")
    parser.add_argument("--metrics-port", type=int, help="/metrics and /healthz port (0: any free, -1: off)")
    parser.add_argument("--set", dest="overrides", action="extend", nargs="+", default=[], metavar="KEY=VALUE",
                        help="override config keys, e.g. --set batch.max_batch=8 limits.open_sessions=32")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (logs are JSON lines on stderr)")


def run(args: argparse.Namespace) -> int:
    from fasstream.stream import logs
    from fasstream.stream.config import ConfigError, load_config

    logs.setup(args.log_level)
    flags = {"model": args.model, "kafka.bootstrap_servers": args.bootstrap_servers,
             "kafka.group_id": args.group_id, "metrics.port": args.metrics_port}
    try:
        cfg = load_config(args.config, args.overrides, flags)
    except ConfigError as err:
        print(f"fasstream serve: {err}", file=sys.stderr)
        return 2
    from fasstream.stream.worker import Worker

    worker = Worker(cfg)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: worker.stop())
    worker.run()
    return 0
