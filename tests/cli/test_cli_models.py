"""`efficientvit models`: every registered model with parameters and MACs matching the official manifests."""

from __future__ import annotations

import json
from pathlib import Path

from efficientvit import get_model_info, list_models
from efficientvit.reference import load_manifest

MANIFESTS = Path(__file__).parents[1] / "reference" / "manifests"


def test_json_lists_every_model_with_official_counts(cli) -> None:
    result = cli("models", "--json")
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    assert [row["name"] for row in rows] == list_models()
    for row in rows:
        assert {"name", "task", "params", "macs", "resolution"} <= set(row)
        assert row["task"] in ("cls", "seg", "sam", "sr")
        assert isinstance(row["params"], int) and isinstance(row["macs"], int)
        if not get_model_info(row["name"]).official:  # our super-resolution models have no manifest
            continue
        manifest = load_manifest(MANIFESTS, row["name"])
        assert row["params"] == manifest["num_params"], row["name"]
        assert [1, 3, *row["resolution"]] == manifest["macs"]["input_shape"], row["name"]
        assert row["macs"] == manifest["macs"]["macs"], row["name"]
    b1 = next(row for row in rows if row["name"] == "efficientvit-b1")
    manifest = load_manifest(MANIFESTS, "efficientvit-b1")
    assert (b1["params"], b1["macs"]) == (manifest["num_params"], manifest["macs"]["macs"])
    assert b1["checkpoint"] is None
    assert next(row for row in rows if row["name"] == "efficientvit-b1-r224")["checkpoint"].startswith(
        "hf://"
    )


def test_table_with_pattern(cli) -> None:
    result = cli("models", "efficientvit-seg-b0-*")
    assert result.code == 0, result.err
    header, row = result.out.strip().splitlines()
    assert header.split() == ["name", "task", "dataset", "params", "MACs", "resolution", "checkpoint"]
    assert row.split() == [
        "efficientvit-seg-b0-cityscapes",
        "seg",
        "cityscapes",
        "0.71M",
        "4.39G",
        "1024x2048",
        "yes",
    ]
    assert header.index("resolution") == row.index("1024x2048")  # aligned columns


def test_no_match_is_a_one_line_error(cli) -> None:
    cli("models", "resnet*").assert_user_error("no model matches 'resnet*'")
