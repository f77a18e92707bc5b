"""Running one benchmark case per subprocess, so frameworks never share a process."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def run_case_in_subprocess(script: str, name: str, options: dict[str, object], python_path_first: str | None = None,
                           environment: dict[str, str] | None = None):
    """Runs `script --run-case NAME --option value ...`; returns (parsed last stdout line, None)
    or (None, the last stderr line) when the case fails (e.g. a peer is not installed).
    `python_path_first`: a folder put first on the subprocess's PYTHONPATH (e.g. older code);
    `environment`: variables set for the subprocess only (e.g. TensorFlow's, read as it loads)."""
    command = [sys.executable, script, "--run-case", name]
    for option, value in options.items():
        command += [f"--{option.replace('_', '-')}", str(value)]
    variables = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(environment or {})}
    if python_path_first:
        variables["PYTHONPATH"] = os.pathsep.join(filter(None, [python_path_first, os.environ.get("PYTHONPATH")]))
    result = subprocess.run(command, capture_output=True, text=True, env=variables)
    if result.returncode != 0:
        last_line = (result.stderr.strip().splitlines() or ["failed"])[-1]
        return None, last_line
    return json.loads(result.stdout.strip().splitlines()[-1]), None


def extract_package(revision: str, folder: str) -> None:
    """The albert_tf package as it was at git `revision`, under `folder` (for `python_path_first`)."""
    root = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True,
                          check=True).stdout.strip()
    archive = subprocess.run(["git", "-C", root, "archive", revision, "albert_tf"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
