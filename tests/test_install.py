"""Light installs: the package imports without its heavy optional packages, and each feature that needs an
extra names it in one line (checked in subprocesses where the packages are hidden as if not installed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from efficientvit.extras import EXTRAS

ROOT = Path(__file__).resolve().parents[1]
HEAVY = (
    "onnx",
    "onnxruntime",
    "onnxscript",
    "segment_anything",
    "pycocotools",
    "scipy",
    "transformers",
    "matplotlib",
    "timm",
)

# Put in front of every snippet: the packages in $HIDE behave as if not installed. A None entry in
# sys.modules is what the import system documents for that: `import onnx` raises ModuleNotFoundError
# (name "onnx"), `importlib.util.find_spec("onnx")` returns None, a submodule's lookup raises, as for a
# package that is not there (a meta-path finder that raised instead would break torch's own find_spec
# probes, which a missing package never does).
HIDER = """
import os, sys
for name in filter(None, os.environ["HIDE"].split(",")):
    sys.modules[name] = None
"""


def run_hidden(code: str, hide: tuple[str, ...], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (this checkout's ``src`` first) with ``hide`` not importable."""
    env = {
        **os.environ,
        "HIDE": ",".join(hide),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
        "EFFICIENTVIT_CACHE": str(cwd / "cache"),
    }
    env.pop("EFFICIENTVIT_BACKEND", None)
    return subprocess.run(
        [sys.executable, "-c", HIDER + code], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )


def cli(argv: list[str]) -> str:
    """A snippet that runs the CLI with ``argv`` and exits with its code."""
    return f"from efficientvit.cli import main\nsys.exit(main({argv!r}))\n"


def one_error_line(result: subprocess.CompletedProcess[str], needs: str, extra: str) -> None:
    """The CLI failed with exactly one line naming the missing package and its extra, no traceback."""
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [lines[-1]] and lines[0].startswith("efficientvit: error: "), result.stderr
    assert f"needs {needs}: pip install 'efficientvit[{extra}]'" in lines[0], lines[0]


def test_import_loads_no_heavy_package(tmp_path: Path) -> None:
    loaded = f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    code = (
        "import json, efficientvit, efficientvit.sam\n"
        + loaded
        + "import efficientvit.runtime, efficientvit.cli\n"
        + "model = efficientvit.create_model('efficientvit-sam-l0')\n"  # building a SAM model stays light too
        + loaded
    )
    result = run_hidden(code, (), tmp_path)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == [[], ["segment_anything"]]


def test_extras_match_pyproject() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    optional = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for extra, modules in EXTRAS.items():
        names = [requirement.split(">")[0].split("=")[0].replace("-", "_") for requirement in optional[extra]]
        assert names == list(modules), extra


def test_without_onnx_auto_falls_back_once_and_onnxruntime_names_the_extra(tmp_path: Path) -> None:
    Image.new("RGB", (40, 30), (200, 30, 60)).save(tmp_path / "photo.png")
    code = """
import torch
from efficientvit import create_model
from efficientvit.runtime import backend_for, runner_for
model = create_model("efficientvit-b0-r224")
assert backend_for(model, "classifier") == "fused", backend_for(model, "classifier")
x = torch.randn(1, 3, 64, 64)
with torch.inference_mode():
    expected = model(x)
runner = runner_for(model, "classifier")
out = runner(x)
assert runner.backend == "fused" and torch.allclose(out, expected, rtol=1e-4, atol=1e-4)
seg = create_model("efficientvit-seg-b0-cityscapes")
runner_for(seg, "segmenter").prepare()  # a second graph: no second notice
from efficientvit.cli import main
code = main(["classify", "photo.png", "-m", "efficientvit-b0-r224", "--weights", "w.safetensors",
             "--backend", "onnxruntime"])
sys.exit(code)
"""
    from safetensors.torch import save_file

    from efficientvit import create_model

    save_file(create_model("efficientvit-b0-r224").state_dict(), tmp_path / "w.safetensors")
    result = run_hidden(code, EXTRAS["onnx"], tmp_path)
    notices = [line for line in result.stderr.splitlines() if "backend 'auto' runs PyTorch" in line]
    assert len(notices) == 1 and "pip install 'efficientvit[onnx]'" in notices[0], result.stderr
    # the explicit backend fails before any output, naming the extra in one line
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("efficientvit: error:")]
    assert len(errors) == 1 and "needs onnx: pip install 'efficientvit[onnx]'" in errors[0], result.stderr
    assert "Traceback" not in result.stderr and not list(tmp_path.glob("*_top5*"))


def test_export_and_auto_without_a_part_of_the_onnx_extra(tmp_path: Path) -> None:
    code = """
import torch
from efficientvit.runtime.rules import auto_backend
assert auto_backend("segmenter", torch.device("cpu"), torch.float32) == "fused"
""" + cli(["export", "-m", "efficientvit-b0-r224", "-o", "b0.onnx"])
    result = run_hidden(code, ("onnxscript",), tmp_path)
    one_error_line(result, "onnxscript", "onnx")
    assert not (tmp_path / "b0.onnx").exists()


def test_demo_comparison_and_bench_plot_without_the_bench_extra(tmp_path: Path) -> None:
    code = """
from efficientvit.benchmark.quick import quick_comparison
print(quick_comparison(resolution=(64, 128), backends=("eager",), repeats=1))
""" + cli(["bench", "--backends", "eager", "--peers", "none", "--plot", "p.png", "--quick"])
    result = run_hidden(code, ("transformers", "matplotlib"), tmp_path)
    lines = result.stdout.splitlines()
    assert "efficientvit-seg-b1-cityscapes (eager)" in result.stdout and "segformer" not in result.stdout
    assert lines[-1].strip() == (
        "SegFormer-B1 not timed: the comparison needs transformers: pip install 'efficientvit[bench]'"
    )
    one_error_line(result, "matplotlib", "bench")  # the only line on stderr: nothing was timed


def test_coco_datasets_and_sam_auto_name_the_sam_eval_extra(tmp_path: Path) -> None:
    code = """
from efficientvit.data import CocoInstanceDataset
from efficientvit.errors import EfficientViTError
try:
    CocoInstanceDataset("images", "instances.json")
except EfficientViTError as error:
    print(error)
""" + cli(["sam", "photo.png", "--auto", "-m", "efficientvit-sam-l0", "--weights", "none.pt", "-o", "out"])
    Image.new("RGB", (40, 30)).save(tmp_path / "photo.png")
    result = run_hidden(code, EXTRAS["sam-eval"], tmp_path)
    expected = "COCO-format datasets needs pycocotools: pip install 'efficientvit[sam-eval]'"
    assert result.stdout.strip() == expected
    one_error_line(result, "pycocotools", "sam-eval")  # before the (missing) weights are looked at
