"""Running one benchmark case per subprocess, so frameworks never share a process."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def run_case_in_subprocess(script: str, name: str, options: dict[str, object]):
    """Runs `script --run-case NAME --option value ...`; returns (parsed last stdout line, None)
    or (None, the last stderr line) when the case fails (e.g. a peer is not installed)."""
    command = [sys.executable, script, "--run-case", name]
    for option, value in options.items():
        command += [f"--{option.replace('_', '-')}", str(value)]
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(command, capture_output=True, text=True, env=environment)
    if result.returncode != 0:
        last_line = (result.stderr.strip().splitlines() or ["failed"])[-1]
        return None, last_line
    return json.loads(result.stdout.strip().splitlines()[-1]), None
