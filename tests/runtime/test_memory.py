"""Preparing a model for the CPU makes the process reuse freed memory for its next large tensor."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# Faults of filling a 64 MiB tensor a third time, after the others were freed; 4 KiB pages (PyTorch's own
# huge pages off, so the count does not depend on it).
SECOND_FILL_FAULTS = """
import resource, sys, torch
from efficientvit import create_model
from efficientvit.runtime import runner_for

model = create_model("efficientvit-b0")
runner_for(model, "classifier", "eager")(torch.rand(1, 3, 32, 32))

def faults_of_a_fill() -> int:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    torch.ones(16 * 2**20)  # 64 MiB, freed at once
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

faults_of_a_fill(), faults_of_a_fill()  # the heap grows to fit
print(faults_of_a_fill())
"""

PAGES_OF_64_MIB = 16384


def third_fill_faults(**env: str) -> int:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    clean.update(THP_MEM_ALLOC_ENABLE="0", **env)
    out = subprocess.run(
        [sys.executable, "-c", SECOND_FILL_FAULTS], env=clean, capture_output=True, text=True, check=True
    )
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None,
    reason="the setting is glibc's",
)
def test_a_cpu_runner_makes_freed_large_tensors_reusable_unless_the_user_opts_out() -> None:
    assert third_fill_faults() < PAGES_OF_64_MIB // 10
    # Opted out, or with the user's own allocator settings: every fill is a fresh mmap, faulted page by page.
    assert third_fill_faults(EFFICIENTVIT_REUSE_MEMORY="0") > PAGES_OF_64_MIB // 2
    assert third_fill_faults(MALLOC_ARENA_MAX_="2") > PAGES_OF_64_MIB // 2
