"""How ``backend="auto"`` chooses: measured rules, one per graph and device type.

CPU rules come from measurements on this project's 2-core machine (AMD EPYC, 2 threads, batch 1, float32,
random weights). The first four rows are one ``efficientvit bench`` run (the README's performance section,
median of 5 after 2 warm-ups); the super-resolution row is one run of ``python -m
efficientvit.benchmark.sr_designs --sizes 608 --designs "depth 3" --backends eager,fused,compile,onnxruntime``
(median of 3; 608 = a default tile of 512 with its overlap), the decoder rows as said below. Both runs had
the process reuse freed memory (:mod:`efficientvit.runtime.memory`). ``fused`` = BatchNorm folded +
channels-last, ``compile`` = torch.compile of that with freezing, ``onnxruntime`` = our ONNX export in ONNX
Runtime's CPU provider:

==================  =========================  =======  =======  =======  ===========  ========
graph               model, input               eager    fused    compile  onnxruntime  chosen
==================  =========================  =======  =======  =======  ===========  ========
classifier          B1, 224x224                34.8 ms  31.8 ms  22.7 ms  12.7 ms      onnxrt
segmenter           seg-B1, 1024x2048          900 ms   649 ms   553 ms   479 ms       onnxrt
segmenter           seg-B1, 512x1024           216 ms   172 ms   136 ms   135 ms       onnxrt
sam_image_encoder   SAM-L0, 512x512            538 ms   509 ms   429 ms   402 ms       onnxrt
sam_prompt_decoder  SAM-L0, one box            118 ms   65 ms    -        78 ms        fused
sam_prompt_decoder  SAM-L0, 64 boxes           11.0 s   3.46 s   -        4.63 s       fused
upscaler            SR full-x2, 608x608 tile   840 ms   718 ms   528 ms   1056 ms      fused
==================  =========================  =======  =======  =======  ===========  ========

The same runs on an Intel Xeon with AVX-512 (README, "The same command on an Intel Xeon") chose the same:
ONNX Runtime first for the classifier (5.8 ms against compile's 10.2), compile as fast as ONNX Runtime or up
to 5 % faster for the segmenter and the SAM encoder (249.0 / 249.5 ms, 55.9 / 58.6 ms, 199.0 / 203.2 ms) but
only after 9-25 s of compilation per input size, and for the SR tile fused 325 ms, compile 276 ms, ONNX
Runtime 705 ms.

For the prompt decoder ``fused`` is the many-prompt decoder of :mod:`efficientvit.sam.decoder` (segment-
anything's weights, the image side shared by the prompts, groups sized for the cache); ``onnxruntime`` is
segment-anything's decoder exported. Those two rows are ``SamPredictor.decode`` on a 480x640 image (median
of 10 and 3 calls, one process, before the memory reuse).

Super-resolution runs ``fused``: ONNX Runtime is 1.5x slower than it per tile (and its first call, the
export with dynamic sizes, took 43 s in a second run with an empty cache), and ``compile``, 1.4x faster,
compiled for 22 s per tile size, which a one-photo ``efficientvit upscale`` (edge tiles have other sizes)
would not earn back. Seg-B0 was measured too, in an earlier run: ONNX Runtime 19 / 52 / 201 ms against
fused 46 / 121 / 565 ms at 256x512 / 512x1024 / 1024x2048, so the rule holds down to small inputs.

On CUDA nothing has been measured yet (no GPU was available to this work): ``fused`` (folded BatchNorm,
channels-last, float32) is the safe exact choice there until a measurement says otherwise. Models in another
dtype than float32, and other devices, run ``fused`` and ``eager`` respectively.

Where ``onnxruntime`` is chosen but the ``[onnx]`` extra (onnx, onnxscript, onnxruntime) is not installed,
:data:`CPU_FALLBACK` runs instead: ``fused``. ``compile`` is faster in the table, but its times exclude the
compilation of each input size (tens of seconds on this machine, and a C compiler is needed), which a
one-photo ``efficientvit classify`` never earns back; ``fused`` is the fastest exact backend without a
setup cost. The runner says so once per process (:func:`~efficientvit.runtime.runner.runner_for`).
"""

from __future__ import annotations

import torch

from efficientvit.extras import EXTRAS, available

__all__ = ["CPU_FALLBACK", "CPU_RULES", "auto_backend", "measured_backend", "onnxruntime_available"]

CPU_RULES: dict[str, str] = {
    "classifier": "onnxruntime",
    "segmenter": "onnxruntime",
    "sam_image_encoder": "onnxruntime",
    "sam_prompt_decoder": "fused",
    "upscaler": "fused",
}
"""The fastest exact backend of each graph on a CPU, for float32 models (see the table above)."""


CPU_FALLBACK = "fused"
"""What runs where the rule says ``onnxruntime`` but the ``[onnx]`` extra is missing (see above)."""


def onnxruntime_available() -> bool:
    """Whether the ``[onnx]`` extra is installed (onnx and onnxscript export, onnxruntime runs)."""
    return available(*EXTRAS["onnx"])


def measured_backend(graph: str, device: torch.device, dtype: torch.dtype) -> str:
    """The fastest exact backend by the rules for ``graph`` of a model on ``device`` in ``dtype``, whether
    or not it is installed."""
    if device.type == "cpu" and dtype == torch.float32:
        return CPU_RULES.get(graph, "fused")
    if device.type in ("cpu", "cuda"):
        return "fused"
    return "eager"


def auto_backend(graph: str, device: torch.device, dtype: torch.dtype) -> str:
    """The backend ``auto`` runs ``graph`` with, for a model on ``device`` with parameters of ``dtype``:
    :func:`measured_backend`, or :data:`CPU_FALLBACK` for ``onnxruntime`` without the ``[onnx]`` extra."""
    choice = measured_backend(graph, device, dtype)
    if choice == "onnxruntime" and not onnxruntime_available():
        return CPU_FALLBACK
    return choice
