"""timm's model API on our classifiers and backbones, checked against timm's EfficientViT on the same weights.

timm is the reference (a test dependency only). Its LiteMLA epsilon is set to the official 1e-15, and our
weights are given to it entry by entry in module order (the two state dicts list the same tensors in the same
order; the shapes are checked pairwise).
"""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
from torch import nn

from efficientvit import EfficientViTError, create_model
from efficientvit.models import BACKBONES, ClsHeadConfig, build_classifier
from efficientvit.weights import save_safetensors

timm = pytest.importorskip("timm")
from timm.data import resolve_data_config  # noqa: E402
from timm.models._manipulate import adapt_input_conv as timm_adapt_input_conv  # noqa: E402

PAIRS = [("efficientvit-b0", "efficientvit_b0"), ("efficientvit-l1", "efficientvit_l1")]
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _randomise(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial norm statistics and affine parameters, so that every layer matters in the comparison."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d | nn.LayerNorm):
                module.weight.copy_(1 + 0.2 * torch.randn(module.weight.shape, generator=generator))
                module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=generator))
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.copy_(0.1 * torch.randn(module.running_mean.shape, generator=generator))
                module.running_var.copy_(0.5 + torch.rand(module.running_var.shape, generator=generator))
    return model


def _ours(name: str, **kwargs: object) -> nn.Module:
    torch.manual_seed(0)
    return _randomise(create_model(name, **kwargs))


def _to_timm(ours: nn.Module, timm_name: str, **kwargs: object) -> nn.Module:
    """timm's model with our weights, mapped by position, and the official LiteMLA epsilon.

    A timm features model drops the stages after its last output: it gets the matching prefix of ours.
    """
    reference = timm.create_model(timm_name, pretrained=False, **kwargs).eval()
    for module in reference.modules():
        if type(module).__name__ == "LiteMLA":
            module.eps = 1e-15
    theirs = reference.state_dict()
    mine = list(ours.state_dict().values())
    if kwargs.get("features_only"):
        mine = mine[: len(theirs)]
    assert len(mine) == len(theirs)
    for (key, target), source in zip(theirs.items(), mine, strict=True):
        assert target.shape == source.shape, key
    reference.load_state_dict(dict(zip(theirs, mine, strict=True)), strict=True)
    return reference


def _images(batch: int = 1, channels: int = 3, size: int = 64) -> torch.Tensor:
    return torch.randn(batch, channels, size, size, generator=torch.Generator().manual_seed(1))


def _close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    assert actual.shape == expected.shape
    scale = expected.abs().max().item()
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5 * max(scale, 1.0))


@pytest.fixture(scope="module", params=PAIRS, ids=["b0", "l1"])
def pair(request: pytest.FixtureRequest) -> tuple[nn.Module, nn.Module]:
    """Our classifier and timm's with the same weights (built once per module; tests must not modify them)."""
    name, timm_name = request.param
    ours = _ours(name)
    return ours, _to_timm(ours, timm_name)


def test_features_head_pre_logits_and_logits_equal_timm(pair: tuple[nn.Module, nn.Module]) -> None:
    ours, reference = pair
    # B0 at 96: LiteMLA's linear path (36 tokens > head_dim 16) and its quadratic one (9 tokens) both run.
    x = _images(size=96 if ours.info.name == "efficientvit-b0" else 64)
    with torch.no_grad():
        features = ours.forward_features(x)
        _close(features, reference.forward_features(x))
        _close(
            ours.forward_head(features, pre_logits=True), reference.forward_head(features, pre_logits=True)
        )
        _close(ours.forward_head(features), reference.forward_head(features))
        _close(ours(x), reference(x))
    assert ours.num_features == reference.num_features
    assert ours.head_hidden_size == reference.head_hidden_size
    assert ours.num_classes == reference.num_classes == 1000
    assert [d["num_chs"] for d in ours.feature_info] == [d["num_chs"] for d in reference.feature_info]
    assert [d["reduction"] for d in ours.feature_info] == [d["reduction"] for d in reference.feature_info]


def test_num_classes_zero_returns_pooled_pre_logits_as_timm() -> None:
    ours = _ours("efficientvit-b0", num_classes=0)
    reference = _to_timm(ours, "efficientvit_b0", num_classes=0)
    x = _images(batch=2)
    with torch.no_grad():
        out = ours(x)
        _close(out, reference(x))
    assert out.shape == (2, reference.head_hidden_size) and ours.num_classes == 0
    assert isinstance(ours.get_classifier(), nn.Identity)


def test_reset_classifier_and_global_pool_match_timm() -> None:
    ours = _ours("efficientvit-b0")
    reference = _to_timm(ours, "efficientvit_b0")
    x = _images()
    for num_classes, pool in ((10, None), (7, "max"), (5, "avgmax"), (0, "avg")):
        ours.reset_classifier(num_classes, global_pool=pool)
        reference.reset_classifier(num_classes, global_pool=pool)
        assert ours.num_classes == num_classes == ours.info.num_classes
        if num_classes:
            assert ours.get_classifier().linear.out_features == num_classes
            reference.get_classifier().load_state_dict(ours.get_classifier().linear.state_dict())
        with torch.no_grad():
            _close(ours(x), reference(x))
    with pytest.raises(EfficientViTError, match="global_pool"):
        ours.reset_classifier(3, global_pool="catavgmax")


def test_forward_intermediates_equal_timm(pair: tuple[nn.Module, nn.Module]) -> None:
    ours, reference = pair
    x = _images()
    with torch.no_grad():
        for kwargs in (
            {},
            {"indices": 2},
            {"indices": [0, -1]},
            {"indices": [1], "stop_early": True},
            {"indices": (0, 2), "intermediates_only": True},
        ):
            mine, theirs = (
                ours.forward_intermediates(x, **kwargs),
                reference.forward_intermediates(x, **kwargs),
            )
            if not kwargs.get("intermediates_only"):
                _close(mine[0], theirs[0])
                mine, theirs = mine[1], theirs[1]
            assert len(mine) == len(theirs) > 0
            for a, b in zip(mine, theirs, strict=True):
                _close(a, b)
    with pytest.raises(EfficientViTError, match="out of range"):
        ours.forward_intermediates(x, indices=[4])


def test_prune_intermediate_layers_matches_timm() -> None:
    ours = _ours("efficientvit-b0")
    reference = _to_timm(ours, "efficientvit_b0")
    assert ours.prune_intermediate_layers([0, 1]) == reference.prune_intermediate_layers([0, 1]) == [0, 1]
    x = _images()
    with torch.no_grad():
        _close(ours(x), reference(x))
        _close(ours.forward_features(x), reference.forward_features(x))
    assert ours.num_features == ours.head_hidden_size == reference.num_features == 32
    assert len(ours.feature_info) == 2


def _small(kind: str) -> nn.Module:
    """B0, or an L-series classifier small enough for many backward passes (the L code path, tiny widths)."""
    if kind == "b":
        return _ours("efficientvit-b0", num_classes=4)
    torch.manual_seed(0)
    config = dataclasses.replace(BACKBONES["l1"], widths=(8, 16, 32, 64, 64), depths=(1, 1, 1, 1, 1))
    return _randomise(build_classifier(config, ClsHeadConfig(widths=(32, 48), num_classes=4)).eval())


@pytest.mark.parametrize("kind", ["b", "l"])
def test_grad_checkpointing_gives_the_same_gradients(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import efficientvit.models.backbone as backbone_module

    calls = []
    real = backbone_module.checkpoint

    def counting(*args: object, **kwargs: object) -> torch.Tensor:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(backbone_module, "checkpoint", counting)
    plain = _small(kind).train()
    checkpointed = copy.deepcopy(plain)
    checkpointed.set_grad_checkpointing()
    x = _images(batch=2, size=32)
    for model in (plain, checkpointed):
        model(x).square().sum().backward()
    assert len(calls) == len(
        checkpointed.backbone.stages
    )  # every stage after the stem (B) or every stage (L)
    for (key, a), b in zip(plain.named_parameters(), checkpointed.parameters(), strict=True):
        assert a.grad is not None, key
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-5, atol=1e-6, msg=key)
    calls.clear()
    checkpointed.forward_intermediates(x)[0].sum().backward()
    assert len(calls) == len(checkpointed.backbone.named_stages())
    calls.clear()
    with torch.no_grad():
        checkpointed.eval()(x)
    assert not calls  # only while training


def test_pretrained_cfg_resolves_to_our_preprocessing() -> None:
    ours = create_model("efficientvit-b0-r224")
    timm_b0 = timm.create_model("efficientvit_b0", pretrained=False)
    # B0 at 224 is preprocessed the same way by timm and the official code.
    assert resolve_data_config({}, model=ours) == resolve_data_config({}, model=timm_b0)
    expected = {
        "input_size": (3, 256, 256),
        "interpolation": "bicubic",
        "mean": IMAGENET_MEAN,
        "std": IMAGENET_STD,
        "crop_pct": 0.95,
        "crop_mode": "center",
    }
    assert resolve_data_config({}, model=create_model("efficientvit-b1-r256")) == expected
    large = create_model("efficientvit-l2-r384")
    cfg = large.pretrained_cfg
    assert cfg == large.default_cfg and cfg["input_size"] == (3, 384, 384) and cfg["pool_size"] == (12, 12)
    first_conv = large.get_submodule(cfg["first_conv"])
    assert isinstance(first_conv, nn.Conv2d) and first_conv.in_channels == 3 and first_conv.stride == (2, 2)
    classifier = large.get_submodule(cfg["classifier"])
    assert isinstance(classifier, nn.Linear) and classifier.out_features == cfg["num_classes"] == 1000
    assert resolve_data_config({}, model=create_model("efficientvit-b0", in_chans=1))["input_size"] == (
        1,
        224,
        224,
    )


def test_features_only_equals_timm(pair: tuple[nn.Module, nn.Module]) -> None:
    ours, reference = pair
    name, timm_name = ours.info.name, reference.pretrained_cfg["architecture"]
    backbone_state = {k: v for k, v in ours.state_dict().items() if k.startswith("backbone.")}
    x = _images()
    choices = (None, (1, 3), 2, (-1,)) if name == "efficientvit-b0" else ((0, 2),)  # L1 is slow on CPUs
    for out_indices in choices:
        kwargs = {} if out_indices is None else {"out_indices": out_indices}
        features = create_model(name, features_only=True, **kwargs)
        features.load_state_dict(backbone_state)
        timm_features = _to_timm(features, timm_name, features_only=True, **kwargs)
        with torch.no_grad():
            mine, theirs = features(x), timm_features(x)
        assert isinstance(mine, list) and len(mine) == len(theirs)
        for a, b in zip(mine, theirs, strict=True):
            _close(a, b)
        info, their_info = features.feature_info, timm_features.feature_info
        assert info.channels() == their_info.channels() and info.reduction() == their_info.reduction()
        assert info.out_indices == tuple(their_info.out_indices)
        keys = ["num_chs", "reduction"]
        assert info.get_dicts(keys=keys) == their_info.get_dicts(keys=keys)
        assert info.get_dicts(keys=keys, idx=[0, 1]) == their_info.get_dicts(keys=keys, idx=[0, 1])
        assert len(info) == len(their_info) == 4 and info.channels(0) == their_info.channels(0)
        for module_name, feature in zip(info.module_name(), mine, strict=True):
            assert features.get_submodule(module_name) is not None and feature.dim() == 4


def test_features_only_module_names_and_errors() -> None:
    features = create_model("efficientvit-b0", features_only=True, out_indices=(0, 2))
    x = _images()
    with torch.no_grad():
        stem = features.backbone.input_stem(x)
        stage1 = features.get_submodule(features.feature_info.module_name(0))(stem)
        stage3 = features.get_submodule(features.feature_info.module_name(2))
        expected = stage3(features.get_submodule(features.feature_info.module_name(1))(stage1))
        _close(features(x)[1], expected)
    assert features.pretrained_cfg["first_conv"] == "backbone.input_stem.op_list.0.conv"
    segmenter = create_model("efficientvit-seg-b0-cityscapes", features_only=True)
    assert segmenter.feature_info.channels() == [16, 32, 64, 128]
    with pytest.raises(EfficientViTError, match="classifier and segmenter"):
        create_model("efficientvit-sam-l0", features_only=True)
    with pytest.raises(EfficientViTError, match="features_only=True"):
        create_model("efficientvit-b0", out_indices=(1,))
    with pytest.raises(EfficientViTError, match="out of range"):
        create_model("efficientvit-b0", features_only=True, out_indices=(4,))


@pytest.mark.parametrize("in_chans", [1, 5])
def test_in_chans_adapts_loaded_weights_as_timm(in_chans: int, tmp_path: object) -> None:
    source = _ours("efficientvit-b0")
    path = save_safetensors(source, tmp_path / "b0.safetensors")  # type: ignore[operator]
    ours = create_model("efficientvit-b0", weights=path, in_chans=in_chans)
    assert ours.info.backbone.in_channels == in_chans == ours.backbone.config.in_channels
    reference = _to_timm(source, "efficientvit_b0")
    stem = reference.stem.in_conv.conv
    adapted = nn.Conv2d(in_chans, stem.out_channels, 3, stride=2, padding=1, bias=False)
    adapted.weight.data = timm_adapt_input_conv(in_chans, stem.weight.data.clone())
    reference.stem.in_conv.conv = adapted
    x = _images(channels=in_chans)
    with torch.no_grad():
        _close(ours(x), reference(x))


def test_in_chans_without_weights_and_the_in_channels_field() -> None:
    model = create_model("efficientvit-l1", in_chans=4)
    assert model.backbone.stages[0].op_list[0].conv.in_channels == 4 and model.info.backbone.in_channels == 4
    assert model(_images(batch=1, channels=4, size=32)).shape == (1, 1000)
    routed = create_model("efficientvit-b0", in_channels=2)
    assert routed.backbone.input_stem.op_list[0].conv.in_channels == 2
    with pytest.raises(EfficientViTError, match="in_chans"):
        create_model("efficientvit-sr-full-x2", in_chans=1)
    with pytest.raises(EfficientViTError, match="positive"):
        create_model("efficientvit-b0", in_chans=0)


@pytest.mark.parametrize("kind", ["b", "l"])
def test_torchscript_classifier_matches_eager(kind: str) -> None:
    model = _small(kind)
    scripted = torch.jit.script(model)
    x = _images(batch=2)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), model(x), rtol=0, atol=0)
