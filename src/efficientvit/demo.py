"""`make demo`: upscale a bundled photograph with the shipped model, the model zoo and CPU timings.

No downloads and no arguments: everything runs from files inside the package.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from efficientvit.benchmark.latency import machine_description, measure_latency
from efficientvit.benchmark.macs import count_macs
from efficientvit.benchmark.quick import quick_comparison
from efficientvit.data.images import read_image, save_png
from efficientvit.data.super_resolution import bicubic_downscale
from efficientvit.inference.super_resolution import upscale
from efficientvit.metrics import sr_psnr_ssim
from efficientvit.zoo import ASSETS, create_model, list_models

DEMO_PHOTO = ASSETS / "chelsea.png"
"""A held-out photograph (scikit-image's "chelsea", CC0 by Stefan van der Walt), never used for training."""
SR_MODEL = "efficientvit-sr-full-x2"

TIMED = (
    ("efficientvit-b0-r224", (224, 224)),
    ("efficientvit-b1-r224", (224, 224)),
    ("efficientvit-l1-r224", (224, 224)),
    ("efficientvit-seg-b0-cityscapes", (512, 1024)),
    ("efficientvit-seg-b1-cityscapes", (512, 1024)),
)


def zoo_table() -> str:
    """Every registered model with its parameters and MACs at the paper resolution."""
    from efficientvit.model_table import describe, format_table

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


def side_by_side(left: torch.Tensor, right: torch.Tensor, *, zoom: int = 2, gap: int = 8) -> torch.Tensor:
    """The central halves of two uint8 (3, H, W) images next to each other, enlarged ``zoom`` times with
    nearest neighbours so that the pixels themselves can be compared."""
    height, width = left.shape[-2:]
    crop = (
        slice(None),
        slice(height // 4, height // 4 + height // 2),
        slice(width // 4, width // 4 + width // 2),
    )
    halves = [image[crop].repeat_interleave(zoom, 1).repeat_interleave(zoom, 2) for image in (left, right)]
    spacer = torch.full((3, halves[0].shape[1], gap), 255, dtype=torch.uint8)
    return torch.cat([halves[0], spacer, halves[1]], dim=2)  # (3, zoom * H / 2, 2 * zoom * W / 2 + gap)


def super_resolution_demo(output: Path) -> str:
    """Downscale the bundled photograph by 2, upscale it back with the shipped model and with bicubic, and
    report PSNR / SSIM (Y channel, border of 2 cropped) of both against the original; write the images."""
    hr = read_image(DEMO_PHOTO)
    hr = hr[:, : hr.shape[1] // 2 * 2, : hr.shape[2] // 2 * 2]  # (3, H, W), even sides
    lr = bicubic_downscale(hr, 2)  # (3, H / 2, W / 2)
    model = create_model(SR_MODEL, weights="official")
    ours = upscale(model, lr)
    bicubic = F.interpolate(lr.float()[None], size=hr.shape[-2:], mode="bicubic", align_corners=False)
    bicubic = bicubic.round().clamp(0, 255).to(torch.uint8)[0]
    reference = hr.float()[None] / 255
    rows = []
    for label, image in (("EfficientViT-SR x2 (shipped)", ours), ("bicubic", bicubic)):
        psnr, ssim = sr_psnr_ssim(image.float()[None] / 255, reference, scale=2)
        rows.append(f"  {label:<30} PSNR-Y {float(psnr[0]):6.2f} dB   SSIM-Y {float(ssim[0]):.4f}")
    output.mkdir(parents=True, exist_ok=True)
    written = [
        save_png(lr, output / "chelsea_input_x0.5.png"),
        save_png(ours, output / "chelsea_x2_efficientvit.png"),
        save_png(bicubic, output / "chelsea_x2_bicubic.png"),
        save_png(side_by_side(bicubic, ours), output / "chelsea_bicubic_vs_efficientvit.png"),
    ]
    size = f"{lr.shape[2]}x{lr.shape[1]} -> {hr.shape[2]}x{hr.shape[1]}"
    return "\n".join(
        [f"Super-resolution of a held-out photograph ({size}):", *rows, "Wrote:"]
        + [f"  {path}" for path in written]
    )


def run_demo(output: Path = Path("outputs/demo")) -> None:
    """Upscale a bundled photograph, then print the zoo, the timings and a comparison with SegFormer."""
    print("EfficientViT: multi-scale ReLU linear attention (Cai et al., ICCV 2023)\n")
    print(super_resolution_demo(output))
    print()
    print(f"Model zoo ({len(list_models())} models; MACs at each model's paper resolution):\n")
    print(zoo_table())
    print(
        "\nCPU forward latency, batch 1, float32, median of 5 runs after 2 warm-ups, "
        f"on {machine_description()}:\n"
    )
    print(latency_table())
    print("\nThe paper's point, speed at high resolution (`efficientvit bench` is the full comparison):\n")
    print(quick_comparison())
    print(
        "\nNext: `efficientvit classify IMAGE --model efficientvit-b1-r224 --weights official` or "
        "`efficientvit segment IMAGE --model efficientvit-seg-b1-cityscapes --weights official -o out/`"
        " (downloads the official checkpoints; pass a local .pt file when offline)."
    )
