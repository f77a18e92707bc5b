"""The Android demo's pure-Kotlin core (android_demo/core), compiled and tested on the JVM.

Runs `android_demo/core/run_jvm_tests.sh`, which installs what it needs (a JDK via
apt-get when `java` is missing, kotlinc from the npm registry), generates golden files
with the Python tokenizer and the real spiece.model, and runs the Kotlin tests. The
script exits 77 only when Java cannot be had at all (or the real model is missing);
that is a loud skip, anything else non-zero is a failure.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = REPO / "android_demo" / "core" / "run_jvm_tests.sh"


def test_kotlin_core_matches_python_tokenizer():
    env = dict(os.environ, PYTHON=sys.executable)
    result = subprocess.run(["bash", str(SCRIPT)], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    output = result.stdout + result.stderr
    if result.returncode == 77:
        pytest.skip("Kotlin core tests NOT RUN: " + " | ".join(
            line for line in output.splitlines() if "SKIP" in line) or output[-2000:])
    assert result.returncode == 0, f"run_jvm_tests.sh failed (exit {result.returncode}):\n{output[-8000:]}"
    summary = re.search(r"(\d+) tests, (\d+) passed, 0 failed", output)
    assert summary and summary.group(1) == summary.group(2), output[-4000:]
    # The golden comparison really ran on the real vocabulary and real text.
    match = re.search(r"PASS ids = Python AlbertTokenizer.encode .*\((\d+) texts", output)
    assert match and int(match.group(1)) >= 1500, output[-4000:]
    assert "PASS Unicode sweep" in output and "PASS QA span decoding" in output
    print(output)
