"""The SAM comparison against the official code: mask twins are found and scored by hand-checkable IoUs, and
a quick run prints the issue's three measures."""

from __future__ import annotations

import numpy as np
import pytest

from efficientvit.benchmark.sam_official import main, twin_ious


def _annotation(point: tuple[float, float], predicted_iou: float, rows: slice, cols: slice) -> dict:
    mask = np.zeros((20, 30), dtype=bool)
    mask[rows, cols] = True
    return {"segmentation": mask, "point_coords": [list(point)], "predicted_iou": predicted_iou}


def test_twins_pair_by_point_and_rank_of_predicted_iou() -> None:
    ours = [
        _annotation((5.0, 5.0), 0.9, slice(0, 10), slice(0, 20)),  # 200 pixels
        _annotation((5.0, 5.0), 0.5, slice(0, 10), slice(0, 10)),
        _annotation((25.0, 15.0), 0.7, slice(10, 20), slice(20, 30)),  # no official mask at this point
    ]
    theirs = [
        _annotation((5.0, 5.0), 0.6, slice(0, 10), slice(0, 10)),  # the lower-ranked: equal to ours
        _annotation((5.0, 5.0), 0.8, slice(0, 10), slice(0, 19)),  # 190 of our 200 pixels
        _annotation((1.0, 1.0), 0.8, slice(0, 2), slice(0, 2)),  # a point we have no mask for
    ]
    ious, unmatched = twin_ious(ours, theirs)
    # Grouped by point, each group sorted by predicted IoU: (5, 5) -> [0.5, 0.9], then (25, 15).
    np.testing.assert_allclose(ious, [1.0, 190 / 200, 0.0])
    assert unmatched == 1


def test_quick_run_prints_the_three_measures(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("efficientsam")
    pytest.importorskip("skimage")
    main(["--quick"])
    out = capsys.readouterr().out
    assert "1. set_image embeddings" in out and "2. predict_torch with 4 boxes" in out
    assert "3. automatic masks, points_per_side=2" in out
    assert out.count("ms, difference") == 2  # one photo, auto and eager
    assert "official without a twin: 0" in out  # with thresholds 0 and no NMS every mask has its twin


def test_counts_below_one_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--boxes", "0"])
    assert exit_info.value.code == 2
    assert "--boxes must be at least 1" in capsys.readouterr().err


def test_an_unreadable_photo_is_one_line(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("efficientsam")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    with pytest.raises(SystemExit) as exit_info:
        main(["--image", str(broken), "--quick"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "broken.jpg" in err and "Traceback" not in err
