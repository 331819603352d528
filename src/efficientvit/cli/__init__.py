"""The `efficientvit` command line: thin argument parsing over the Python API, one module per command."""

from __future__ import annotations

import argparse
import os
import sys

from efficientvit import __version__
from efficientvit.cli import bench, classify, demo, evaluate, export, models, sam, segment, train, upscale
from efficientvit.errors import EfficientViTError, one_line

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
        print(f"efficientvit: error: {one_line(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("efficientvit: error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `efficientvit models | head`: stop quietly, as other tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
