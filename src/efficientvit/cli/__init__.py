"""The `efficientvit` command line: thin argument parsing over the Python API, one module per command."""

from __future__ import annotations

import argparse
import os
import sys

from efficientvit import __version__
from efficientvit.cli import bench, classify, demo, evaluate, export, models, sam, segment, train, upscale
from efficientvit.errors import EfficientViTError, one_line
from efficientvit.train.distributed import is_peer_failure, process_label, report_to_launcher

COMMANDS = (models, classify, segment, sam, export, upscale, train, evaluate, bench, demo)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one subcommand per module in ``COMMANDS``."""
    parser = argparse.ArgumentParser(
        prog="efficientvit", description="EfficientViT models: list them, classify and segment images."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; user errors print ``efficientvit: error: <message>`` on one line and return 1."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help, --version (0) and argument errors (2), already printed by argparse
        return exit_.code if isinstance(exit_.code, int) else 1
    try:
        return args.run(args)
    except EfficientViTError as err:
        return _fail(one_line(err))
    except RuntimeError as err:  # under torchrun: another process failed and printed why
        if not is_peer_failure(err):
            raise
        return _fail(
            "stopped because another process of this torchrun job failed (its error is above)", peer=True
        )
    except KeyboardInterrupt:
        print("efficientvit: error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `efficientvit models | head`: stop quietly, as other tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _fail(message: str, *, peer: bool = False) -> int:
    """Print a command's error on one line (naming the rank under `torchrun`, and telling `torchrun`)."""
    print(f"efficientvit: error: {process_label()}{message}", file=sys.stderr)
    report_to_launcher(message, caused_by_peer=peer)
    return 1
