"""`make demo`: the model zoo and CPU forward-pass timings, with no downloads and no arguments."""

from __future__ import annotations

import torch

from efficientvit.benchmark.latency import machine_description, measure_latency
from efficientvit.benchmark.macs import count_macs
from efficientvit.zoo import create_model, list_models

TIMED = (
    ("efficientvit-b0-r224", (224, 224)),
    ("efficientvit-b1-r224", (224, 224)),
    ("efficientvit-l1-r224", (224, 224)),
    ("efficientvit-seg-b0-cityscapes", (512, 1024)),
    ("efficientvit-seg-b1-cityscapes", (512, 1024)),
)


def zoo_table() -> str:
    """Every registered model with its parameters and MACs at the paper resolution."""
    from efficientvit.cli.models import describe, format_table

    return format_table([describe(name) for name in list_models()])


def latency_table(repeats: int = 5) -> str:
    """Median forward latency of a few models here (random weights: speed does not depend on them)."""
    header = f"{'model':<32} {'input':>10} {'GMACs':>8} {'latency':>11} {'GMACs/s':>8}"
    lines = [header]
    for name, (height, width) in TIMED:
        model = create_model(name)
        x = torch.randn(1, 3, height, width)
        macs = count_macs(model, x.shape)
        latency = measure_latency(model, x, warmup=2, repeats=repeats)
        lines.append(
            f"{name:<32} {f'{height}x{width}':>10} {macs / 1e9:>8.2f} {latency.median_ms:>8.1f} ms "
            f"{macs / 1e9 / (latency.median_ms / 1e3):>8.1f}"
        )
    return "\n".join(lines)


def run_demo() -> None:
    """Print the zoo and the timings."""
    print("EfficientViT: multi-scale ReLU linear attention (Cai et al., ICCV 2023)\n")
    print(f"Model zoo ({len(list_models())} models; MACs at each model's paper resolution):\n")
    print(zoo_table())
    print(
        "\nCPU forward latency, batch 1, float32, median of 5 runs after 2 warm-ups, "
        f"on {machine_description()}:\n"
    )
    print(latency_table())
    print(
        "\nNext: `efficientvit classify IMAGE --model efficientvit-b1-r224 --weights official` or "
        "`efficientvit segment IMAGE --model efficientvit-seg-b1-cityscapes --weights official -o out/`"
        " (downloads the official checkpoints; pass a local .pt file when offline)."
    )
