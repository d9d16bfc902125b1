"""The ``fasstream`` command line: one subcommand per task, each in the module that does it.

Naming rule: subcommand ``X`` lives in ``fasstream/<package>/cmd_X.py`` of the package that does the
work (``fasstream eval`` in ``fasstream/eval/cmd_eval.py``).

Each entry maps a subcommand to ``module:function``; the module must define
``add_arguments(parser)`` and the function takes the parsed ``argparse.Namespace`` and returns
an exit code. Modules are imported only when their subcommand runs, so ``fasstream --help`` and
the op need nothing beyond torch and numpy.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> (module, function, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "synth": ("fasstream.data.cmd_synth", "run", "generate the synthetic live/attack dataset"),
    "train": ("fasstream.train.cmd_train", "run", "train EulerNet from a recipe"),
    "label": ("fasstream.labels.cmd_label", "run", "label a dataset once and cache the face maps"),
    "eval": ("fasstream.eval.cmd_eval", "run", "score dev and test splits with a checkpoint and report PAD metrics"),
    "verify": ("fasstream.eval.cmd_verify", "run", "live score and decision of local videos"),
    "export": ("fasstream.model.cmd_export", "run", "slim a training checkpoint for serving"),
    "serve": ("fasstream.stream.cmd_serve", "run", "run a streaming verification worker (Kafka in, results out)"),
    "send": ("fasstream.stream.cmd_send", "run", "stream local videos to the input topic as sessions"),
    "results": ("fasstream.stream.cmd_results", "run", "print the result topic as JSON lines"),
    "demo": ("fasstream.stream.cmd_demo", "run", "broker, workers and synthetic sessions end to end, with ACER"),
    "magnify": ("fasstream.viz.cmd_magnify", "run", "Eulerian magnification of a face video"),
    "explain": ("fasstream.viz.cmd_explain", "run", "Grad-CAM and predicted maps of a video"),
}


def _load(name: str):
    module, func, _ = COMMANDS[name]
    mod = importlib.import_module(module)
    return mod, getattr(mod, func)


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fasstream", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (_, _, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        if name == chosen:  # import only the module of the command that runs
            _load(name)[0].add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    return int(_load(args.command)[1](args) or 0)


if __name__ == "__main__":
    sys.exit(main())
