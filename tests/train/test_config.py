"""TrainConfig accepts only values that mean something, from Python, from config.json and from the CLI."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from pathlib import Path

import pytest

from efficientvit.cli import build_parser, main
from efficientvit.cli.train import LEFT_OUT, SHARED_OPTIONS
from efficientvit.errors import EfficientViTError
from efficientvit.train.config import FIELD_RULES, TrainConfig
from efficientvit.train.options import field_docs, train_field, train_fields

BASE = {"task": "cls", "model": "efficientvit-b0", "data": "data", "output": "run"}

NONSENSE = [
    ("grad_clip", -1.0, "gradient ascent: clip_grad_norm_ with a negative max flips the gradients"),
    ("checkpoint_every", -5, "negative step counts"),
    ("mixup_alpha", -0.2, "Beta(alpha, alpha) needs alpha >= 0"),
    ("cutmix_alpha", math.inf, "not finite"),
    ("warmup_epochs", -1.0, "negative warm-up"),
    ("ema_decay", 1.0, "an EMA that never moves"),
    ("ema_decay", -0.5, "negative decay"),
    ("label_smoothing", 1.0, "all mass off the target"),
    ("label_smoothing", -0.1, "negative smoothing"),
    ("lr", math.nan, "NaN learning rate"),
    ("lr", 0.0, "nothing learns"),
    ("epochs", 0, "no training"),
    ("epochs", True, "a bool is not a count"),
    ("batch_size", 2.5, "not an integer"),
    ("crop_size", (100_000, 100_000), "terabytes of crop"),
    ("crop_size", (8, 64), "smaller than the stride-32 stage"),
    ("resolution", 0, "no pixels"),
    ("scale", 1, "no upscaling"),
    ("workers", -1, "negative processes"),
    ("seed", -3, "numpy seeds are unsigned 32-bit"),
    ("amp", "fp8", "no such mode"),
    ("device", "meta", "meta tensors hold no data"),
    ("device", "gpu0", "not a device name"),
    ("randaugment", "yes", "a string from a hand-edited config.json"),
]


@pytest.mark.parametrize(("name", "value", "why"), NONSENSE, ids=[f"{n}={v!r}" for n, v, _ in NONSENSE])
def test_nonsense_settings_raise_one_error_naming_the_field(name: str, value: object, why: str) -> None:
    with pytest.raises(EfficientViTError) as exc:
        TrainConfig(**BASE, **{name: value})
    assert f"{name} {value!r} is not" in str(exc.value)
    assert FIELD_RULES[name].meaning in str(exc.value)


def test_sensible_settings_and_the_defaults_are_accepted() -> None:
    TrainConfig(**BASE)
    TrainConfig(
        **BASE, grad_clip=None, ema_decay=0.9998, label_smoothing=0.0, crop_size=(512, 1024), device="cpu"
    )
    TrainConfig(**BASE, grad_clip=0.0, checkpoint_every=0, warmup_epochs=0.0, seed=2**32 - 1)


def test_settings_that_contradict_each_other_are_refused() -> None:
    with pytest.raises(EfficientViTError, match=r"min_lr 0\.1 is above lr 0\.01"):
        TrainConfig(**BASE, lr=0.01, min_lr=0.1)
    with pytest.raises(EfficientViTError, match="patch_size 97 is not a multiple of scale 2"):
        TrainConfig(**{**BASE, "task": "sr"}, patch_size=97, scale=2)
    with pytest.raises(EfficientViTError, match="stop_after 3 is beyond epochs 2"):
        TrainConfig(**BASE, epochs=2, stop_after=3)


def test_the_super_resolution_factor_defaults_to_the_models_own() -> None:
    from efficientvit.train.run import with_model_scale
    from efficientvit.zoo import get_model_info

    x4 = {**BASE, "task": "sr", "model": "efficientvit-sr-full-x4"}
    info = get_model_info(x4["model"])
    assert with_model_scale(TrainConfig(**x4), info).scale == 4
    assert with_model_scale(TrainConfig(**x4, scale=2), info).scale == 2  # asked for: the model is rebuilt
    with pytest.raises(EfficientViTError, match="patch_size 90 is not a multiple of scale 4"):
        with_model_scale(TrainConfig(**x4, patch_size=90), info)
    assert with_model_scale(TrainConfig(**BASE), get_model_info("efficientvit-b0")).scale is None


def test_a_hand_edited_config_json_is_refused_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    TrainConfig(**BASE).save(path)
    values = json.loads(path.read_text())
    path.write_text(json.dumps({**values, "grad_clip": -1}))
    with pytest.raises(EfficientViTError, match=r"config.json.*grad_clip -1 is not"):
        TrainConfig.load(path)


@pytest.mark.parametrize(
    ("option", "text"),
    [
        ("--grad-clip", "-1"),
        ("--checkpoint-every", "-3"),
        ("--mixup", "-1"),
        ("--warmup-epochs", "-2"),
        ("--ema", "2"),
        ("--label-smoothing", "1.5"),
        ("--lr", "nan"),
        ("--lr", "fast"),
        ("--crop-size", "100000"),
        ("--crop-size", "64x64x64"),
        ("--workers", "-1"),
    ],
)
def test_the_cli_refuses_nonsense_like_argparse_does(
    option: str, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["train", "--task", "cls", "--model", "efficientvit-b0", "--data", "d", option, text])
    assert code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"argument {option}: {text!r} is not " in err.strip().splitlines()[-1]


def _command(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return commands.choices[name]


def _options(name: str) -> dict[str, argparse.Action]:
    return {action.dest: action for action in _command(name)._actions if action.option_strings}


def test_every_field_is_documented_and_has_an_option_or_a_reason_not_to() -> None:
    options = _options("train")
    for field in dataclasses.fields(TrainConfig):
        assert field_docs(TrainConfig).get(field.name), f"TrainConfig.{field.name} has no docstring"
        if field.name in LEFT_OUT:
            assert LEFT_OUT[field.name].strip(), f"{field.name} is left out of the CLI without a reason"
            assert field.name not in options, f"{field.name} is both an option and left out"
        else:
            assert field.name in options, f"TrainConfig.{field.name}: no train option, no LEFT_OUT reason"
            assert options[field.name].default is None  # None: "not given", so resume sees what was asked
    assert set(LEFT_OUT) <= {f.name for f in dataclasses.fields(TrainConfig)}


def test_option_help_is_the_field_docstring_with_the_dataclass_default() -> None:
    assert field_docs(TrainConfig)["lr"] == "Peak learning rate of AdamW."
    default = next(f.default for f in dataclasses.fields(TrainConfig) if f.name == "lr")
    lr_help = _options("train")["lr"].help
    assert lr_help.startswith("peak learning rate of AdamW")
    assert f"(default {default})" in lr_help
    assert _options("train")["batch_size"].help.endswith(f"(default {TrainConfig.batch_size})")
    assert not any("(default None)" in action.help for action in _options("train").values())
    assert _options("train")["progress"].help == f"turn off {train_field('progress').help}"


def test_fields_describe_their_types_defaults_and_rules() -> None:
    names = [field.name for field in train_fields()]
    assert names == [f.name for f in dataclasses.fields(TrainConfig)]
    assert train_field("task").required and not train_field("epochs").required
    assert train_field("crop_size").optional and train_field("crop_size").value_type == tuple[int, int]
    assert train_field("amp").choices == ("auto", "none", "bf16", "fp16")
    assert train_field("lr").value_type is float and train_field("lr").default == TrainConfig.lr
    assert train_field("lr").meaning == FIELD_RULES["lr"].meaning
    assert train_field("model").rule is None


def test_eval_takes_the_shared_data_options_with_the_same_flags_as_train() -> None:
    train, evaluate = _options("train"), _options("eval")
    for name in SHARED_OPTIONS:
        assert evaluate[name].option_strings == train[name].option_strings
        assert evaluate[name].required == (name in ("task", "model", "data"))
        assert not train[name].required
