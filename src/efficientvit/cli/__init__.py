"""The `efficientvit` command line: thin argument parsing over the Python API, one module per command."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from efficientvit import __version__
from efficientvit.errors import EfficientViTError, one_line
from efficientvit.files import not_regular_message, special_kind

COMMANDS = ("models", "classify", "segment", "sam", "export", "upscale", "train", "evaluate", "bench", "demo")
"""The modules of ``efficientvit.cli``, one per command, imported (with PyTorch) once the arguments are
known to name no unusable input path."""

OUTPUT_OPTIONS = frozenset({"--output", "-o", "--json", "--plot"})
"""Options whose value is written, not read: a named pipe or ``/dev/null`` may be given there."""

INPUT_ROLES = {"--weights": "checkpoint file", "-w": "checkpoint file", "--data": "dataset folder"}
"""What an option's input path should be, for the message refusing it; a positional path is an image."""


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one subcommand per module in ``COMMANDS``."""
    parser = argparse.ArgumentParser(
        prog="efficientvit",
        description="EfficientViT models: classify, segment, prompt SAM, upscale, train, evaluate, export, "
        "benchmark.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"efficientvit.cli.{name}").register(subparsers)
    return parser


def refuse_unusable_inputs(argv: Sequence[str]) -> None:
    """Refuse an argument naming a named pipe, a device or a socket as an input, in one line and before
    PyTorch is imported (within a second): such a path cannot be read as an image, a checkpoint or a
    dataset, and reading it may block or never end. Values of ``OUTPUT_OPTIONS`` are outputs and allowed."""
    previous = ""
    for token in argv:
        option, equals, value = token.partition("=")
        given_as = option if equals and option.startswith("--") else previous
        path = value if equals and option.startswith("--") else token
        previous = token
        kind = None if given_as in OUTPUT_OPTIONS else special_kind(path)
        if kind is None:
            continue
        role = INPUT_ROLES.get(given_as, "image file")
        if role.endswith("folder"):
            raise EfficientViTError(f"{path}: is {kind}, not a {role}; pass the {role}'s path")
        raise EfficientViTError(not_regular_message(path, kind, role))


def main(argv: list[str] | None = None) -> int:
    """Run one command; user errors print ``efficientvit: error: <message>`` on one line and return 1."""
    try:
        refuse_unusable_inputs(sys.argv[1:] if argv is None else argv)
    except EfficientViTError as err:
        return _fail(one_line(err))
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help, --version (0) and argument errors (2), already printed by argparse
        return exit_.code if isinstance(exit_.code, int) else 1
    try:
        return args.run(args)
    except EfficientViTError as err:
        return _fail(one_line(err))
    except RuntimeError as err:  # under torchrun: another process failed and printed why
        from efficientvit.torchrun import is_peer_failure

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
    from efficientvit.torchrun import process_label, report_to_launcher

    print(f"efficientvit: error: {process_label()}{message}", file=sys.stderr)
    report_to_launcher(message, caused_by_peer=peer)
    return 1
