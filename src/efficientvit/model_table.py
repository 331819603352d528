"""The model zoo as a table: each registered model's task, dataset, size, cost and checkpoint.

``efficientvit models`` prints it (as a table or JSON) and ``efficientvit demo`` shows it.
"""

from __future__ import annotations

from typing import Any

import torch

from efficientvit.benchmark.macs import count_macs, count_params
from efficientvit.zoo import create_model, get_model_info

__all__ = ["count", "describe", "format_table"]

COLUMNS = ("name", "task", "dataset", "params", "MACs", "resolution", "checkpoint")
RIGHT_ALIGNED = {"params", "MACs"}


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
