"""Quiets TensorFlow's native (C++) log lines for the `albert` command, before TensorFlow loads.

TensorFlow reads `TF_CPP_MIN_LOG_LEVEL` once, while it is imported, and
`albert_tf` imports it; so the decision is made when the package is first
imported by the `albert` command, not later in `main()`. Stdlib only: it runs
before anything heavy is imported.
"""

from __future__ import annotations

import os
import sys
from typing import Sequence

TF_LOG_LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"
# 3 hides TensorFlow's native INFO, WARNING and ERROR lines (FATAL still shows): on a machine with the CUDA
# driver library but no GPU, TensorFlow logs `failed call to cuInit` as an ERROR before every message.
CLI_TF_LOG_LEVEL = "3"


def is_albert_command(argv: Sequence[str] | None = None, orig_argv: Sequence[str] | None = None) -> bool:
    """Whether this process is the `albert` console script or `python -m albert_tf`."""
    argv = sys.argv if argv is None else argv
    orig_argv = getattr(sys, "orig_argv", []) if orig_argv is None else orig_argv
    if argv and os.path.basename(argv[0]).removesuffix(".exe") in ("albert", "albert-script.py"):
        return True
    return any(flag == "-m" and module in ("albert_tf", "albert_tf.cli.main")
               for flag, module in zip(orig_argv, orig_argv[1:]))


def verbosity(arguments: Sequence[str]) -> int:
    """How many `-v` flags come before the subcommand (`-v -v` or `-vv`; `-q` counts down)."""
    count = 0
    for token in arguments:
        if token == "--" or not token.startswith("-"):
            break  # the subcommand: its own options are not the top-level -v
        if not token.startswith("--") and set(token[1:]) <= {"v", "q"}:
            count += token.count("v") - token.count("q")
    return count


def quiet_tensorflow_logs(arguments: Sequence[str], environ=None) -> None:
    """Hides TensorFlow's native log lines below FATAL, unless the user set `TF_CPP_MIN_LOG_LEVEL` or gave -v.

    Must run before TensorFlow is imported: it reads the variable only then.
    """
    environ = os.environ if environ is None else environ
    if TF_LOG_LEVEL_VARIABLE not in environ and verbosity(arguments) <= 0:
        environ[TF_LOG_LEVEL_VARIABLE] = CLI_TF_LOG_LEVEL
