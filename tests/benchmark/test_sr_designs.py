"""The SR design comparison: every design built and timed at every size, the shipped one marked once."""

from __future__ import annotations

import pytest

from efficientvit.benchmark import sgemm, sr_designs
from efficientvit.benchmark.macs import count_macs
from efficientvit.models.super_resolution import SR_CONFIGS, EfficientViTSR


def test_every_design_is_timed_at_every_size_and_the_shipped_one_is_marked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    small_peak = sgemm.measure_sgemm(256, repeats=1)
    monkeypatch.setattr(sr_designs, "measure_sgemm", lambda: small_peak)
    rows = sr_designs.main(["--sizes", "32,48", "--repeats", "1", "--backends", "eager"])
    printed = capsys.readouterr().out
    names = {row.design for row in rows}
    assert len(rows) == 2 * len(names) and len(names) == len(sr_designs.DESIGNS)
    shipped = [name for name in names if name.endswith("(shipped)")]
    assert len(shipped) == 1
    assert sr_designs.DESIGNS[shipped[0].removesuffix(" (shipped)")] == SR_CONFIGS["full"]
    for row in rows:
        config = {**sr_designs.DESIGNS, shipped[0]: SR_CONFIGS["full"]}[row.design]
        assert row.macs == count_macs(EfficientViTSR(config), (1, 3, row.size, row.size))
        assert row.median_ms > 0 and row.sgemm_fraction > 0 and row.backend == "eager"
    assert "time/pixels growth" in printed and small_peak.describe() in printed


def test_sizes_are_validated() -> None:
    with pytest.raises(SystemExit):
        sr_designs.main(["--sizes", "8"])
    with pytest.raises(SystemExit):
        sr_designs.main(["--sizes", "a,b"])
    with pytest.raises(SystemExit):
        sr_designs.main(["--backends", "fused,tensorrt"])


def test_a_shipped_design_that_was_not_listed_is_added() -> None:
    other = SR_CONFIGS["0.75w"]
    designs = sr_designs._with_shipped({"first": SR_CONFIGS["full"]}, other)
    assert designs == {"first": SR_CONFIGS["full"], "shipped (SR_CONFIGS['full'])": other}
