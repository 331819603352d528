"""Plain-text summary tables of evaluation metrics, as the CLI prints them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["format_metrics"]


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _number(value: float, digits: int = 2) -> str:
    return (
        "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"
    )


def format_metrics(task: str, metrics: dict[str, Any], class_names: Sequence[str] = ()) -> str:
    """A table of ``metrics`` as returned by evaluation for ``task`` ("cls", "seg" or "sr")."""
    if task == "cls":
        return _table(
            [
                ("metric", "value"),
                ("top-1 (%)", _number(metrics["top1"])),
                ("top-5 (%)", _number(metrics["top5"])),
            ]
        )
    if task == "sr":
        return _table(
            [
                ("method", "PSNR-Y (dB)", "SSIM-Y"),
                ("model", _number(metrics["psnr"]), _number(metrics["ssim"], 4)),
                ("bicubic", _number(metrics["bicubic_psnr"]), _number(metrics["bicubic_ssim"], 4)),
            ]
        )
    names = list(class_names) or [f"class {i}" for i in range(len(metrics["per_class_iou"]))]
    rows = [("class", "IoU (%)")]
    rows += [(name, _number(iou)) for name, iou in zip(names, metrics["per_class_iou"], strict=False)]
    rows += [("mIoU", _number(metrics["mIoU"])), ("pixel accuracy", _number(metrics["pixel_acc"]))]
    return _table(rows)
