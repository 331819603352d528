"""One torch thread for the preprocessing right before an ONNX Runtime call on the CPU, and only then."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from efficientvit import create_model
from efficientvit.inference import classify
from efficientvit.runtime import one_torch_thread_before, runner_for, runs_onnxruntime_on_cpu
from efficientvit.tasks import classification


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_onnxruntime_runner_gets_one_thread_and_the_count_comes_back(users_auto: Path, two_threads) -> None:
    model = create_model("efficientvit-b0").eval()
    run = runner_for(model, "classifier", "onnxruntime")
    with one_torch_thread_before(run):  # prepares the runner first: its backend is known only then
        inside = torch.get_num_threads()
    assert runs_onnxruntime_on_cpu(run)
    assert (inside, torch.get_num_threads()) == (1, 2)
    with pytest.raises(KeyError), one_torch_thread_before(run):
        raise KeyError("an error inside")
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize("backend", ["eager", "fused"])
def test_pytorch_runners_keep_their_threads(backend: str, two_threads) -> None:
    run = runner_for(create_model("efficientvit-b0").eval(), "classifier", backend)
    with one_torch_thread_before(run):
        assert torch.get_num_threads() == 2
    assert not runs_onnxruntime_on_cpu(run)


def test_classify_preprocesses_on_one_thread_only_for_onnxruntime(
    users_auto: Path, two_threads, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    preprocess = classification.preprocess

    def recording(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return preprocess(*args, **kwargs)

    monkeypatch.setattr(classification, "preprocess", recording)
    model = create_model("efficientvit-b0").eval()
    image = torch.randint(0, 256, (3, 64, 80), dtype=torch.uint8)
    for backend in ("eager", "auto"):
        classify(model, [image, image], backend=backend)
    assert seen == [2, 2, 1, 1]
    assert torch.get_num_threads() == 2
