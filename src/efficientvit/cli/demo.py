"""`efficientvit demo` (what `make demo` runs): upscale a bundled photo, the zoo and CPU timings."""

from __future__ import annotations

import argparse
from pathlib import Path

from efficientvit.demo import run_demo


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `demo` command."""
    parser = subparsers.add_parser(
        "demo",
        help="upscale a bundled photo, show the model zoo and time a few models",
        description=run_demo.__doc__,
    )
    parser.add_argument(
        "--output", "-o", type=Path, default=Path("outputs/demo"), help="where images go (outputs/demo)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo."""
    run_demo(args.output)
    return 0
