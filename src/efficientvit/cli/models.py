"""`efficientvit models`: the registered models with their task, size, cost and checkpoint."""

from __future__ import annotations

import argparse
import json

from tqdm import tqdm

from efficientvit.errors import EfficientViTError
from efficientvit.model_table import describe, format_table
from efficientvit.zoo import list_models


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `models` command."""
    parser = subparsers.add_parser(
        "models",
        help="list the registered models",
        description="List the registered models with parameters, MACs at their paper resolution and whether "
        "an official checkpoint exists.",
    )
    parser.add_argument(
        "pattern", nargs="?", default="*", help="shell-style name filter, e.g. 'efficientvit-seg-*'"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the models matching ``args.pattern`` as a table or JSON."""
    names = list_models(args.pattern)
    if not names:
        raise EfficientViTError(f"no model matches {args.pattern!r}; `efficientvit models` lists them all")
    rows = [describe(name) for name in tqdm(names, unit="model", leave=False, disable=None)]  # ~0.3 s each
    print(json.dumps(rows, indent=2) if args.json else format_table(rows))
    return 0
