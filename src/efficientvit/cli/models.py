"""`efficientvit models`: the registered models with their task, size, cost and checkpoint."""

from __future__ import annotations

import argparse
import json
from typing import Any

import torch
from tqdm import tqdm

from efficientvit.benchmark.macs import count_macs, count_params
from efficientvit.errors import EfficientViTError
from efficientvit.zoo import create_model, get_model_info, list_models

COLUMNS = ("name", "task", "dataset", "params", "MACs", "resolution", "checkpoint")
RIGHT_ALIGNED = {"params", "MACs"}


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


_COUNTS: dict[tuple[object, ...], tuple[int, int]] = {}


def count(name: str) -> tuple[int, int]:
    """(params, MACs at the paper resolution) of ``name``; aliases of one architecture count once."""
    info = get_model_info(name)
    key = (info.backbone, info.head, info.resolution)
    if key not in _COUNTS:
        with torch.device("meta"):  # nothing is computed or allocated
            model = create_model(name)
        _COUNTS[key] = count_params(model), count_macs(model, (1, 3, *info.resolution))
    return _COUNTS[key]


def describe(name: str) -> dict[str, Any]:
    """One model's row: task, dataset, parameters, MACs at the paper resolution and checkpoint."""
    info = get_model_info(name)
    params, macs = count(name)
    return {
        "name": name,
        "task": info.task,
        "dataset": info.dataset,
        "params": params,
        "macs": macs,
        "resolution": list(info.resolution),
        "checkpoint": str(info.checkpoint) if info.checkpoint is not None else None,
    }


def format_table(rows: list[dict[str, Any]]) -> str:
    """Aligned columns: params in millions, MACs in billions, resolution as HxW."""
    cells = [
        {
            "name": row["name"],
            "task": row["task"],
            "dataset": row["dataset"],
            "params": f"{row['params'] / 1e6:.2f}M",
            "MACs": f"{row['macs'] / 1e9:.2f}G",
            "resolution": "x".join(map(str, row["resolution"])),
            "checkpoint": "yes" if row["checkpoint"] else "-",
        }
        for row in rows
    ]
    widths = {col: max(len(col), *(len(cell[col]) for cell in cells)) for col in COLUMNS}

    def line(values: dict[str, str]) -> str:
        parts = [
            values[col].rjust(widths[col]) if col in RIGHT_ALIGNED else values[col].ljust(widths[col])
            for col in COLUMNS
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line({col: col for col in COLUMNS}), *(line(cell) for cell in cells)])


def run(args: argparse.Namespace) -> int:
    """Print the models matching ``args.pattern`` as a table or JSON."""
    names = list_models(args.pattern)
    if not names:
        raise EfficientViTError(f"no model matches {args.pattern!r}; `efficientvit models` lists them all")
    rows = [describe(name) for name in tqdm(names, unit="model", leave=False, disable=None)]  # ~0.3 s each
    print(json.dumps(rows, indent=2) if args.json else format_table(rows))
    return 0
