"""TensorFlow's oneDNN CPU kernels on and off, on CPUs where TensorFlow leaves them off by default.

TensorFlow 2.20's Linux x86 wheels use oneDNN by default only on CPUs with AVX-512 VNNI or BF16,
AVX-VNNI or AMX; elsewhere the environment variable TF_ENABLE_ONEDNN_OPTS=1, set before TensorFlow
loads, turns it on (the `albert` commands that train log a hint there: albert_tf/training/cpu_kernels.py).
This times the same workloads with TF_ENABLE_ONEDNN_OPTS=0 and =1, each in its own process, the two
settings taking turns within each round (so drifts in the machine's speed hit both alike):

- the demo's albert_tiny pretraining step (vocabulary 8,000, batch 32 x 128; benchmarks/small_model_step.py),
  with its matmul floor measured in the same process;
- ALBERT-base's pretraining step, batch 8 x 128 (`base_step`; about a minute a process on 2 slow cores);
- ALBERT-base's forward pass at batch 8 x 128 and at batch 1 x 128, the serving shape
  (benchmarks/backbone_forward.py).

Usage:
    python benchmarks/onednn_ab.py --rounds 2
    python benchmarks/onednn_ab.py --workloads tiny_step forward_1 --rounds 3 --output benchmarks/results/onednn_ab.md
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys

from subprocess_cases import run_case_in_subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
STEP_SCRIPT = os.path.join(HERE, "small_model_step.py")
FORWARD_SCRIPT = os.path.join(HERE, "backbone_forward.py")

# name: (description, script, options)
WORKLOADS = {
    "tiny_step": ("albert_tiny pretraining step, 32 x 128, vocabulary 8k", STEP_SCRIPT,
                  dict(size="tiny", batch=32, seq_length=128, masked=19, repeats=10)),
    "base_step": ("ALBERT-base pretraining step, 8 x 128", STEP_SCRIPT,
                  dict(size="base", batch=8, seq_length=128, masked=20, repeats=3)),
    "forward_8": ("ALBERT-base forward, 8 x 128", FORWARD_SCRIPT, dict(batch=8, seq_length=128, repeats=5)),
    "forward_1": ("ALBERT-base forward, 1 x 128", FORWARD_SCRIPT, dict(batch=1, seq_length=128, repeats=20)),
}
SETTINGS = ("0", "1")


def _milliseconds(result) -> tuple[float, float | None]:
    """(median ms, median floor ms or None) of one process's result from either script."""
    if isinstance(result, dict):  # small_model_step: seconds and the interleaved floor
        floor = statistics.median(result["floor_seconds"]) * 1000 if result["floor_seconds"] else None
        return statistics.median(result["seconds"]) * 1000, floor
    return statistics.median(result) * 1000, None  # backbone_forward: a list of seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workloads", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    parser.add_argument("--rounds", type=int, default=2, help="processes per workload and setting")
    parser.add_argument("--output", help="also write the table (markdown) here")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")  # exit code 2, one line

    times = {(name, setting): [] for name in args.workloads for setting in SETTINGS}
    floors = {setting: [] for setting in SETTINGS}
    for round_index in range(args.rounds):
        for name in args.workloads:
            for setting in SETTINGS:
                _, script, options = WORKLOADS[name]
                print(f"{name}, TF_ENABLE_ONEDNN_OPTS={setting} (round {round_index + 1} of {args.rounds}) ...",
                      file=sys.stderr, flush=True)
                result, error = run_case_in_subprocess(script, "albert_tf", options,
                                                       environment={"TF_ENABLE_ONEDNN_OPTS": setting})
                if error:
                    sys.exit(f"onednn_ab: {name} failed with TF_ENABLE_ONEDNN_OPTS={setting}: {error}")
                milliseconds, floor = _milliseconds(result)
                times[name, setting].append(milliseconds)
                if floor and name == "tiny_step":
                    floors[setting].append(floor)
                print(f"  {milliseconds:.1f} ms" + (f" (matmul floor {floor:.1f} ms)" if floor else ""),
                      file=sys.stderr, flush=True)

    lines = [f"TF_ENABLE_ONEDNN_OPTS=0 against =1, median ms of each process's median; {args.rounds} processes "
             f"per setting, taking turns; {platform.machine()}, {os.cpu_count()} cores", "",
             "| workload | oneDNN off | oneDNN on | off / on |", "|---|---:|---:|---:|"]
    for name in args.workloads:
        off, on = (statistics.median(times[name, setting]) for setting in SETTINGS)
        spread = {setting: f"{min(times[name, setting]):.1f}-{max(times[name, setting]):.1f}" for setting in SETTINGS}
        lines.append(f"| {WORKLOADS[name][0]} | {off:.1f} ({spread['0']}) | {on:.1f} ({spread['1']}) | {off / on:.2f}x |")
    if floors["0"]:
        off_floor, on_floor = (statistics.median(floors[setting]) for setting in SETTINGS)
        off_step, on_step = (statistics.median(times["tiny_step", setting]) for setting in SETTINGS)
        lines.append(f"| albert_tiny step's matmul floor (step / floor) | {off_floor:.1f} ({off_step / off_floor:.2f}x) "
                     f"| {on_floor:.1f} ({on_step / on_floor:.2f}x) | {off_floor / on_floor:.2f}x |")
    print("\n" + "\n".join(lines))
    if args.output:
        from albert_tf.io_utils import atomic_write_text  # written aside and renamed, as the library's outputs

        atomic_write_text(args.output, f"`python benchmarks/onednn_ab.py {' '.join(sys.argv[1:])}`\n\n"
                          + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
