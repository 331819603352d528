"""The benchmark harness: one timing method, one row type, and the run over our models, backends and peers.

Timing: ``warmup`` untimed calls, then ``repeats`` timed ones under ``torch.inference_mode``; a row reports
their median (the latency), their minimum, and images/s at batch 1. Slow peers (SAM ViT-H takes tens of
seconds a call) get fewer repeats, never fewer than one, so that a row takes about ``peer_budget_s``.
MACs are counted by ``torch.utils.flop_counter`` on a copy built on the meta device (nothing computed);
the sgemm fraction is ``2 * MACs / latency`` over the machine's float32 matmul peak measured in the same
run (:mod:`efficientvit.benchmark.sgemm`).

Rows run one after another in one process: timings of a loaded machine are noise, so the machine (CPU,
cores, threads, versions, load average before and after) is recorded with every report. The runtime's
export cache points at the run's temporary folder for the whole run, so every export is done (and timed)
in every run.

Optional peer groups (``--peers``): ``timm`` (timm's EfficientViT-B1 next to our ``efficientvit-b1-r224``),
``official-sam`` (the official EfficientViT-SAM code, ``efficientsam``, with our weights: its image encoder,
and its predictor's set_image + one box next to ours), ``official-onnx`` (the official ``onnx_export.py``'s
plain ``torch.onnx.export`` of our unfused model in ONNX Runtime) and ``pipelines`` (``segment``,
``classify`` and ``SamPredictor.set_image`` end to end on uint8 images, default ``auto`` against
``eager``). Rows that are not one of our models through one backend have a model name that says what they
time (``segment() <model>``, ``official-onnx <model>``, ...): see the ``*_row`` helpers.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from efficientvit.benchmark.backends import BACKENDS, PreparedBackend, export_cache_at, prepare_backend
from efficientvit.benchmark.latency import Latency, cpu_model
from efficientvit.benchmark.macs import count_params
from efficientvit.benchmark.peers import (
    ATTENTION_MAPS,
    DEFAULT_ATTENTION,
    QUICK_ATTENTION_MAPS,
    SAM_VIT_RESOLUTION,
    SEGFORMER_SIZES,
    TIMM_B1,
    TIMM_B1_OURS,
    TIMM_B1_RESOLUTION,
    OfficialSamEncoder,
    SamImageEncoder,
    SamPromptPath,
    build_official_sam,
    build_sam_vit,
    build_segformer,
    build_timm_b1,
    example_box,
    export_official_onnx,
    official_sam_predictor,
    require_peer_packages,
)
from efficientvit.benchmark.sgemm import SgemmPeak, measure_sgemm, sgemm_fraction
from efficientvit.errors import EfficientViTError
from efficientvit.tasks.registry import get_task, task_names
from efficientvit.zoo import create_model, get_model_info

DEFAULT_PEERS: tuple[str, ...] = ("segformer", "sam", "attention")
"""The peer groups run without ``--peers``."""
OPTIONAL_PEERS: tuple[str, ...] = ("timm", "official-sam", "official-onnx", "pipelines")
"""Peer groups run only when asked for (or with ``all``)."""
PEER_GROUPS: tuple[str, ...] = (*DEFAULT_PEERS, *OPTIONAL_PEERS)
"""``--peers`` choices; ``all`` = every group plus SAM ViT-H (slow: minutes)."""
SAM_MODEL = "efficientvit-sam-l0"
PIPELINE_BACKENDS: tuple[str, ...] = ("auto", "eager")
"""The ``backend=`` of the pipeline rows: the default, against plain PyTorch."""
SAM_IMAGE_SIZE = (480, 640)
"""(H, W) of the uint8 image given to the SAM predictors (VGA, a typical photo's aspect)."""
SAM_BOX = (160.0, 120.0, 480.0, 360.0)
"""The one box prompt of the predictor rows, x0, y0, x1, y1 in the image's pixels (its middle quarter)."""
PIPELINE_ENTRIES: tuple[str, ...] = tuple(
    entry for name in task_names() if (entry := get_task(name).entry) is not None
)
"""The inference entry points the ``pipelines`` group times (``Task.entry``), each a prefix of its rows' model
names."""


def pipeline_backend(backend: str) -> str:
    """The row backend of a pipeline run with ``backend=backend``: ``pipeline auto``, ``pipeline eager``."""
    return f"pipeline {backend}"


def pipeline_row(entry: str, model: str) -> str:
    """The model name of a pipeline row: the entry point, then our model (``segment() efficientvit-...``)."""
    return f"{entry} {model}"


def official_onnx_row(model: str) -> str:
    """The model name of the official-ONNX-export row of our ``model``."""
    return f"official-onnx {model}"


TIMM_ROW = f"timm {TIMM_B1}"
OFFICIAL_SAM_ENCODER_ROW = f"official {SAM_MODEL} encoder"
OFFICIAL_SAM_PREDICTOR_ROW = f"official {SAM_MODEL} set_image+predict"
SAM_PREDICTOR_ROW = f"SamPredictor {SAM_MODEL} set_image+predict"
"""Our one-box predictor path (``SamPredictor(model, backend="auto")``), next to the official one."""


@dataclass(frozen=True)
class BenchRow:
    """One model run one way at one resolution."""

    model: str
    backend: str
    resolution: str
    """``HxW`` of the input image (of the token map for the attention blocks)."""
    latency_ms: float
    """The median of the timed calls."""
    min_ms: float
    images_per_s: float
    macs: int | None
    params: int | None
    sgemm_fraction: float | None
    """``2 * macs / latency`` over the measured sgemm peak."""
    repeats: int
    setup_s: float | None = None
    """Preparation time: compile (the first call), export + session, folding."""
    rel_diff: float | None = None
    """Largest difference from the eager output, relative to the largest eager output value."""
    note: str = ""


@dataclass(frozen=True)
class BenchSettings:
    """What to run and how."""

    models: tuple[str, ...] = ("efficientvit-seg-b1-cityscapes",)
    resolutions: tuple[tuple[int, int], ...] = ((512, 1024), (1024, 2048))
    """Image sizes for the models that take any size (segmentation, super-resolution); the others run at
    their registry resolution."""
    backends: tuple[str, ...] = BACKENDS
    peers: tuple[str, ...] = DEFAULT_PEERS
    sam_vit_h: bool = False
    threads: int = 2
    warmup: int = 2
    repeats: int = 10
    peer_budget_s: float = 60.0
    quick: bool = False
    """Smaller sgemm, shorter attention sweep, one warm-up, small time budgets: a smoke run."""


@dataclass
class BenchReport:
    """Everything one run measured."""

    machine: dict[str, Any]
    settings: BenchSettings
    sgemm: SgemmPeak
    rows: list[BenchRow] = field(default_factory=list)

    def find(self, model: str, backend: str, resolution: str) -> BenchRow | None:
        """The row of ``model`` run by ``backend`` at ``resolution``, if measured."""
        return next(
            (r for r in self.rows if (r.model, r.backend, r.resolution) == (model, backend, resolution)), None
        )

    def best(self, model: str, resolution: str) -> BenchRow | None:
        """The fastest (lowest median) row of ``model`` at ``resolution``."""
        rows = [r for r in self.rows if (r.model, r.resolution) == (model, resolution)]
        return min(rows, key=lambda r: r.latency_ms, default=None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "machine": self.machine,
            "settings": dataclasses.asdict(self.settings),
            "sgemm": dataclasses.asdict(self.sgemm),
            "rows": [dataclasses.asdict(row) for row in self.rows],
        }

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> BenchReport:
        """The report that :meth:`to_dict` wrote (``efficientvit bench --json``)."""
        settings = {
            key: tuple(tuple(v) if isinstance(v, list) else v for v in value)
            if isinstance(value, list)
            else value
            for key, value in saved["settings"].items()
        }
        return cls(
            machine=saved["machine"],
            settings=BenchSettings(**settings),
            sgemm=SgemmPeak(**saved["sgemm"]),
            rows=[BenchRow(**row) for row in saved["rows"]],
        )


def time_call(
    fn: Callable[[], object], *, warmup: int = 2, repeats: int = 10, budget_s: float | None = None
) -> Latency:
    """Median and minimum wall time of ``fn()`` in milliseconds after ``warmup`` untimed calls.

    With ``budget_s`` (for slow models), warm-up stops after the first call once warm-up has taken half the
    budget, and the repeats are cut so that they take about the budget (at least one).
    """
    estimate = None
    spent = 0.0
    with torch.inference_mode():
        for _ in range(max(warmup, 1 if budget_s is not None else 0)):
            start = time.perf_counter()
            fn()
            estimate = time.perf_counter() - start
            spent += estimate
            if budget_s is not None and spent > budget_s / 2:
                break
        if budget_s is not None and estimate:
            repeats = max(1, min(repeats, int(budget_s / estimate)))
        gc.collect()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append((time.perf_counter() - start) * 1e3)
    return Latency(median_ms=statistics.median(times), min_ms=min(times), repeats=repeats)


def count_macs_meta(build: Callable[[], nn.Module], inputs: Callable[[], Sequence[torch.Tensor]]) -> int:
    """MACs of ``build()(*inputs())``, both made on the meta device: nothing is allocated or computed
    (and ``scaled_dot_product_attention`` is counted, which the CPU kernel's flop formula misses)."""
    with torch.device("meta"):
        model = build().requires_grad_(False)  # outputs that are parameters would trip the module tracker
        args = inputs()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(*args)
    return counter.get_total_flops() // 2


def machine_info() -> dict[str, Any]:
    """CPU model, cores, torch threads, library versions and load average."""
    cpu = cpu_model()
    try:
        import onnxruntime

        ort_version: str | None = onnxruntime.__version__
    except ImportError:
        ort_version = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "onnxruntime": ort_version,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_start": _loadavg(),
    }


def describe_machine(machine: dict[str, Any]) -> str:
    """The machine in a few lines, as printed above every table."""
    lines = [
        f"machine: {machine['cpu']}, {machine['cores']} cores; torch {machine['torch']}, threads: "
        f"{machine['torch_threads']}; onnxruntime {machine['onnxruntime']}; "
        f"Python {machine['python']}; {machine['platform']}",
        f"load average (1, 5, 15 min): {_format_load(machine.get('loadavg_start'))} at the start"
        + (f", {_format_load(machine['loadavg_end'])} at the end" if "loadavg_end" in machine else ""),
    ]
    return "\n".join(lines)


def make_row(
    model: str,
    backend: str,
    resolution: str,
    latency: Latency,
    *,
    macs: int | None,
    params: int | None,
    sgemm: SgemmPeak | None,
    batch: int = 1,
    setup_s: float | None = None,
    rel_diff: float | None = None,
    note: str = "",
) -> BenchRow:
    """A row from a timing, with throughput and sgemm fraction worked out."""
    fraction = sgemm_fraction(macs, latency.median_ms, sgemm.gflops) if macs and sgemm else None
    return BenchRow(
        model=model,
        backend=backend,
        resolution=resolution,
        latency_ms=latency.median_ms,
        min_ms=latency.min_ms,
        images_per_s=batch * 1e3 / latency.median_ms,
        macs=macs,
        params=params,
        sgemm_fraction=fraction,
        repeats=latency.repeats,
        setup_s=setup_s,
        rel_diff=rel_diff,
        note=note,
    )


def run_benchmark(settings: BenchSettings, *, log: Callable[[str], None] = lambda line: None) -> BenchReport:
    """Measure the sgemm peak, then every row ``settings`` asks for, one after another; ``log`` gets a line
    per finished row. Torch's thread count is set to ``settings.threads`` for the run and restored after, and
    so is ``$EFFICIENTVIT_CACHE`` (pointed at the run's temporary folder). A peer group whose package is
    missing raises ``EfficientViTError`` before anything is timed."""
    require_peer_packages(settings.peers)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(settings.threads)
    try:
        machine = machine_info()
        sgemm = measure_sgemm(1024, repeats=3) if settings.quick else measure_sgemm()
        log(sgemm.describe())
        report = BenchReport(machine=machine, settings=settings, sgemm=sgemm)
        with (
            tempfile.TemporaryDirectory(prefix="efficientvit-bench-") as workdir,
            export_cache_at(Path(workdir) / "cache"),
        ):
            _Run(settings, report, Path(workdir), log).all()
        machine["loadavg_end"] = _loadavg()
        return report
    finally:
        torch.set_num_threads(previous_threads)


class _Run:
    """The rows of one run, in order: our models through every backend, then the peers."""

    def __init__(
        self, settings: BenchSettings, report: BenchReport, workdir: Path, log: Callable[[str], None]
    ) -> None:
        self.settings = settings
        self.report = report
        self.workdir = workdir
        self.cache = workdir / "cache"
        """The runtime's export cache during this run (``$EFFICIENTVIT_CACHE``)."""
        self.log = log
        self.warmup = 1 if settings.quick else settings.warmup
        self.budget = min(settings.peer_budget_s, 5.0) if settings.quick else settings.peer_budget_s

    def all(self) -> None:
        peers = self.settings.peers
        models = list(self.settings.models)
        if ("sam" in peers or "official-sam" in peers) and SAM_MODEL not in models:
            models.append(SAM_MODEL)
        if "timm" in peers and TIMM_B1_OURS not in models:
            models.append(TIMM_B1_OURS)
        for name in models:
            for resolution in self._resolutions(name):
                self.ours(name, resolution)
        if "segformer" in self.settings.peers:
            for resolution in self.settings.resolutions:
                for name in SEGFORMER_SIZES:
                    self.peer(name, lambda n=name: build_segformer(n), resolution, note="transformers")
        if "sam" in self.settings.peers:
            self.sam()
        if "attention" in self.settings.peers:
            self.attention()
        if "timm" in peers:
            self.peer(TIMM_ROW, build_timm_b1, TIMM_B1_RESOLUTION, note="timm, eager")
        if "official-sam" in peers:
            self.official_sam()
        if "official-onnx" in peers:
            for name in models:
                if get_task(get_model_info(name).task).dense:
                    self.official_onnx(name)
        if "pipelines" in peers:
            for name in models:
                self.pipelines(name)

    def add(self, row: BenchRow) -> None:
        self.report.rows.append(row)
        self.log(
            f"{row.model} {row.backend} {row.resolution}: {row.latency_ms:.1f} ms median, "
            f"{row.min_ms:.1f} ms min ({row.repeats} runs)"
        )

    def _resolutions(self, name: str) -> tuple[tuple[int, int], ...]:
        info = get_model_info(name)
        return self.settings.resolutions if get_task(info.task).own_size else (info.resolution,)

    def ours(self, name: str, resolution: tuple[int, int]) -> None:
        """Our model ``name`` through every requested backend at ``resolution``."""
        shape = (1, 3, *resolution)
        model = create_model(name)
        macs = count_macs_meta(lambda: create_model(name), lambda: (torch.zeros(shape),))
        params = count_params(model)
        x = torch.randn(shape)
        reference: torch.Tensor | None = None
        for backend in self.settings.backends:
            try:
                prepared = prepare_backend(backend, model, x, workdir=self.cache)
            except EfficientViTError as error:
                self.log(f"{name} {backend}: skipped ({error})")
                continue
            if reference is None:
                reference = prepared.output if backend == "eager" else _eager_output(model, x)
            latency = time_call(prepared.run, warmup=self.warmup, repeats=self.settings.repeats)
            self.add(
                make_row(
                    name,
                    backend,
                    _format_resolution(resolution),
                    latency,
                    macs=macs,
                    params=params,
                    sgemm=self.report.sgemm,
                    setup_s=None if backend == "eager" else prepared.setup_s,
                    rel_diff=None if backend == "eager" else _relative_difference(prepared, reference),
                )
            )
            del prepared
            gc.collect()

    def peer(
        self,
        name: str,
        build: Callable[[], nn.Module],
        resolution: tuple[int, int],
        *,
        channels: int = 3,
        note: str = "",
    ) -> None:
        """A peer model in eager mode (the baselines as their authors ship them) on a (1, channels, H, W)
        input."""
        shape = (1, channels, *resolution)
        macs = count_macs_meta(build, lambda: (torch.zeros(shape),))
        model = build()
        x = torch.randn(shape)
        latency = time_call(
            lambda: model(x), warmup=self.warmup, repeats=self.settings.repeats, budget_s=self.budget
        )
        self.add(
            make_row(
                name,
                "eager",
                _format_resolution(resolution),
                latency,
                macs=macs,
                params=count_params(model),
                sgemm=self.report.sgemm,
                note=note,
            )
        )

    def sam(self) -> None:
        """EfficientViT-SAM-L0's prompt path, then SAM ViT-B (and ViT-H) encoder and prompt path."""
        self.prompt_path(
            SAM_MODEL, lambda: SamPromptPath(create_model(SAM_MODEL)), get_model_info(SAM_MODEL).resolution
        )
        kinds = ["sam-vit-b", *(["sam-vit-h"] if self.settings.sam_vit_h else [])]
        for kind in kinds:
            self.peer(
                f"{kind} encoder",
                lambda k=kind: SamImageEncoder(build_sam_vit(k)),
                SAM_VIT_RESOLUTION,
                note="segment-anything",
            )
            self.prompt_path(kind, lambda k=kind: SamPromptPath(build_sam_vit(k)), SAM_VIT_RESOLUTION)

    def prompt_path(self, name: str, build: Callable[[], SamPromptPath], resolution: tuple[int, int]) -> None:
        shape = (1, 3, *resolution)
        macs = count_macs_meta(build, lambda: (torch.zeros(shape), example_box()))
        model = build().eval()
        x, box = torch.randn(shape), example_box()
        latency = time_call(
            lambda: model(x, box), warmup=self.warmup, repeats=self.settings.repeats, budget_s=self.budget
        )
        self.add(
            make_row(
                f"{name} prompt path",
                "eager",
                _format_resolution(resolution),
                latency,
                macs=macs,
                params=count_params(model),
                sgemm=self.report.sgemm,
                note="image encoder + prompt encoder + mask decoder, 1 box",
            )
        )

    def attention(self) -> None:
        """A softmax-attention block and a LiteMLA block of the same dimensions over growing token maps."""
        pair = DEFAULT_ATTENTION
        maps = QUICK_ATTENTION_MAPS if self.settings.quick else ATTENTION_MAPS
        for height, width in maps:
            for name, build in pair.builders().items():
                self.peer(
                    name, build, (height, width), channels=pair.channels, note=f"{height * width} tokens"
                )

    def official_sam(self) -> None:
        """The official EfficientViT-SAM-L0 (``efficientsam``) with our weights: its image encoder (eager),
        then its predictor's set_image + one box on a uint8 image, next to ours (``SamPredictor``, auto)."""
        ours = create_model(SAM_MODEL).eval()
        official = build_official_sam(ours.state_dict())
        resolution = get_model_info(SAM_MODEL).resolution
        shape = (1, 3, *resolution)
        x = torch.randn(shape)
        encoder = OfficialSamEncoder(official)
        latency = time_call(
            lambda: encoder(x), warmup=self.warmup, repeats=self.settings.repeats, budget_s=self.budget
        )
        with torch.inference_mode():
            difference = _difference(encoder(x), ours(x))
        self.add(
            make_row(
                OFFICIAL_SAM_ENCODER_ROW,
                "eager",
                _format_resolution(resolution),
                latency,
                macs=count_macs_meta(
                    lambda: OfficialSamEncoder(build_official_sam()), lambda: (torch.zeros(shape),)
                ),
                params=count_params(encoder),
                sgemm=self.report.sgemm,
                rel_diff=difference,
                note="efficientsam (official code), our weights",
            )
        )
        image = _random_image(SAM_IMAGE_SIZE).permute(1, 2, 0).numpy()  # (H, W, 3) uint8, as both APIs take
        box = np.array(SAM_BOX)
        predictor = official_sam_predictor(official)

        def official_path() -> None:
            predictor.set_image(image)
            predictor.predict(box=box)

        latency = time_call(
            official_path, warmup=self.warmup, repeats=self.settings.repeats, budget_s=self.budget
        )
        size = _format_resolution(SAM_IMAGE_SIZE)
        what = "set_image + predict 1 box on a uint8 image"
        self.add(
            make_row(
                OFFICIAL_SAM_PREDICTOR_ROW,
                "eager",
                size,
                latency,
                macs=None,
                params=count_params(official),
                sgemm=None,
                note=f"EfficientViTSamPredictor: {what}",
            )
        )
        from efficientvit.sam import SamPredictor

        ours_predictor = SamPredictor(ours, backend="auto")

        def our_path() -> None:
            ours_predictor.set_image(image)
            ours_predictor.predict(box=box)

        self.timed_pipeline(
            SAM_PREDICTOR_ROW,
            "auto",
            size,
            our_path,
            model=ours,
            graphs=("sam_image_encoder", "sam_prompt_decoder"),
            note=f"SamPredictor: {what}",
        )

    def official_onnx(self, name: str) -> None:
        """Our segmentation model ``name``, unfused and eager, exported as the official ``onnx_export.py``
        does (plain ``torch.onnx.export``, opset 17 asked) and run in ONNX Runtime, at each run resolution."""
        from efficientvit.export.onnxruntime import OnnxRuntimeModel

        model = create_model(name).eval()
        params = count_params(model)
        for resolution in self.settings.resolutions:
            height, width = resolution
            shape = (1, 3, height, width)
            x = torch.randn(shape)
            path = self.workdir / f"official-{name}-{height}x{width}.onnx"
            start = time.perf_counter()
            try:
                export = export_official_onnx(model, x, path)
                session = OnnxRuntimeModel(path, threads=self.settings.threads)
                output = session(x)
            except EfficientViTError as error:
                self.log(f"{official_onnx_row(name)} {height}x{width}: skipped ({error})")
                continue
            setup = time.perf_counter() - start
            note = f"official onnx_export.py stand-in: plain torch.onnx.export ({export.describe()})"
            if not torch.isfinite(
                output
            ).all():  # 0/0 where LiteMLA lost its epsilon and a kernel is all zero
                note += "; NaN in its output"
            latency = time_call(
                lambda s=session, x=x: s(x), warmup=self.warmup, repeats=self.settings.repeats
            )
            self.add(
                make_row(
                    official_onnx_row(name),
                    "onnxruntime",
                    _format_resolution(resolution),
                    latency,
                    macs=count_macs_meta(lambda: create_model(name), lambda s=shape: (torch.zeros(s),)),
                    params=params,
                    sgemm=self.report.sgemm,
                    setup_s=setup,
                    rel_diff=_difference(output, _eager_output(model, x)),
                    note=note,
                )
            )
            del session
            path.unlink(missing_ok=True)
            gc.collect()

    def pipelines(self, name: str) -> None:
        """What a user gets without flags, end to end on random uint8 images, default (``auto``) against
        ``backend="eager"``: the task's entry point (``Task.entry_call``), ``segment`` at every run resolution
        (the model sees exactly that size), ``classify`` of one image at the model's resolution, or
        ``SamPredictor.set_image`` of a 480x640 image. Super-resolution models have no pipeline row."""
        info = get_model_info(name)
        task = get_task(info.task)
        if task.entry_call is None or task.entry is None:
            return
        model = create_model(name).eval()
        sizes = (
            self.settings.resolutions
            if task.dense
            else (SAM_IMAGE_SIZE,)
            if task.fixed_frame
            else (info.resolution,)
        )
        for size in sizes:
            image = _random_image(size)
            for backend in PIPELINE_BACKENDS:
                self.timed_pipeline(
                    pipeline_row(task.entry, name),
                    backend,
                    _format_resolution(size),
                    task.entry_call(model, image, backend),
                    model=model,
                    graphs=task.graphs[:1],
                    note=task.entry_steps,
                )

    def timed_pipeline(
        self,
        row_name: str,
        backend: str,
        resolution: str,
        call: Callable[[], object],
        *,
        model: nn.Module,
        graphs: tuple[str, ...],
        note: str,
    ) -> None:
        """A row for an inference entry point run with ``backend=backend``: the first call (preparation:
        export, compile) is the setup time, then the steady state is timed. For ``auto`` the note names what
        it ran."""
        start = time.perf_counter()
        with torch.inference_mode():
            call()
        setup = time.perf_counter() - start
        latency = time_call(call, warmup=self.warmup, repeats=self.settings.repeats)
        if backend == "auto":
            from efficientvit.runtime import runner_for

            chosen = [getattr(runner_for(model, graph, "auto"), "backend", None) or "?" for graph in graphs]
            note = f"{note}; auto -> {'/'.join(chosen)}"
        self.add(
            make_row(
                row_name,
                pipeline_backend(backend),
                resolution,
                latency,
                macs=None,
                params=count_params(model),
                sgemm=None,
                setup_s=setup,
                note=note,
            )
        )


def _eager_output(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return model(x)


def _relative_difference(prepared: PreparedBackend, reference: torch.Tensor) -> float:
    return _difference(prepared.output, reference)


def _difference(output: torch.Tensor, reference: torch.Tensor) -> float:
    """Largest difference of ``output`` from ``reference``, relative to the largest reference value."""
    difference = (output.float() - reference.float()).abs().max().item()
    return difference / max(reference.abs().max().item(), 1e-30)


def _random_image(size: tuple[int, int], seed: int = 0) -> torch.Tensor:
    """A random uint8 (3, H, W) image of exactly ``size``."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (3, *size), dtype=torch.uint8, generator=generator)


def _format_resolution(resolution: tuple[int, int]) -> str:
    return f"{resolution[0]}x{resolution[1]}"


def _loadavg() -> list[float] | None:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def _format_load(load: Sequence[float] | None) -> str:
    return "unknown" if load is None else ", ".join(f"{value:.2f}" for value in load)
