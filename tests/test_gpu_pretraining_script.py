"""benchmarks/gpu_pretraining.py runs end to end (`--smoke`: tiny config, on the CPU) and reports every case."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_pretraining.py"


# About 70 s on a 2-core machine (nine cases, five of them XLA-compiled): over the fast suite's budget.
@pytest.mark.slow
@pytest.mark.skipif(__import__("importlib").util.find_spec("keras_hub") is None, reason="needs keras_hub (bench extra)")
def test_smoke_run_reports_every_case_with_a_finite_step_time(tmp_path):
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        from gpu_pretraining import CASES
    finally:
        sys.path.remove(str(SCRIPT.parent))
    done = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--no-save"], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
                                                              CUDA_VISIBLE_DEVICES=""))
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {line.split(" | ")[0].lstrip("| "): line for line in done.stdout.splitlines() if line.startswith("| ")}
    for label, *_ in CASES.values():
        cells = [cell.strip() for cell in rows[label].strip("|").split("|")]
        assert float(cells[2]) > 0 and int(cells[1]) >= 1, rows[label]
    assert "SMOKE RUN" in done.stdout
