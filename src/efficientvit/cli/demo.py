"""`efficientvit demo`: the model zoo and CPU timings, with no downloads (what `make demo` runs)."""

from __future__ import annotations

import argparse

from efficientvit.demo import run_demo


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `demo` command."""
    parser = subparsers.add_parser(
        "demo", help="show the model zoo and time a few models", description=run_demo.__doc__
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo."""
    run_demo()
    return 0
