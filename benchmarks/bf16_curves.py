"""float32 against mixed_bfloat16 pretraining: wall time and loss curves of the same run.

`--dtype auto` (and the demo) pretrain in mixed_bfloat16 on a CPU with native bfloat16 only because
this comparison says it is faster with curves no worse. It runs `albert pretrain` twice on the same
records, seed and settings, once per precision, each as a whole process, and writes the held-out and
training curves side by side (table and plot) with each run's wall time.

The default records are the demo's (`albert demo` writes them under runs/demo/records); any
pretraining records work.

Usage:
    python benchmarks/bf16_curves.py --records runs/demo/records/train/part-00000-00000.tfrecord \\
        --eval-records runs/demo/records/heldout/part-00000-00000.tfrecord \\
        --config runs/demo/pretrain/albert_config.json --output benchmarks/results/bf16_curves.md
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time

PRECISIONS = ("float32", "mixed_bfloat16")
COLUMNS = ("loss", "mlm_accuracy", "sop_accuracy", "val_loss", "val_mlm_accuracy", "val_sop_accuracy")


def _pretrain(args, dtype: str, output_dir: str) -> float:
    command = [sys.executable, "-m", "albert_tf.cli.main", "pretrain", "--config", args.config,
               "--records", *args.records, "--eval-records", *args.eval_records, "--output-dir", output_dir,
               "--batch-size", str(args.batch_size), "--train-steps", str(args.train_steps),
               "--steps-per-checkpoint", str(args.steps_per_checkpoint), "--learning-rate", str(args.learning_rate),
               "--warmup-steps", str(args.warmup_steps), "--seed", str(args.seed), "--dtype", dtype, "--no-progress"]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def metric_rows(path: str) -> list[dict[str, float]]:
    """A run's `metrics.csv` as one dict of floats per row (empty cells left out)."""
    with open(path, newline="") as table:
        return [{name: float(value) for name, value in row.items() if value != ""} for row in csv.DictReader(table)]


def _plot(curves: dict[str, list[dict[str, float]]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for axis, (column, title) in zip(axes, (("loss", "training loss"), ("val_loss", "held-out loss"),
                                            ("val_mlm_accuracy", "held-out MLM accuracy"))):
        for dtype, rows in curves.items():
            axis.plot([row["step"] for row in rows], [row[column] for row in rows], marker="o", label=dtype)
        axis.set_title(title)
        axis.set_xlabel("step")
        axis.legend()
    figure.tight_layout()
    from albert_tf.io_utils import staged_file

    with staged_file(path) as staged:
        figure.savefig(staged, dpi=100, format="png")
    plt.close(figure)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", nargs="+", default=["runs/demo/records/train/part-00000-00000.tfrecord"])
    parser.add_argument("--eval-records", nargs="+", default=["runs/demo/records/heldout/part-00000-00000.tfrecord"])
    parser.add_argument("--config", default="runs/demo/pretrain/albert_config.json")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--train-steps", type=int, default=600)
    parser.add_argument("--steps-per-checkpoint", type=int, default=100)
    parser.add_argument("--learning-rate", type=float, default=0.005)
    parser.add_argument("--warmup-steps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--output", default="benchmarks/results/bf16_curves.md")
    args = parser.parse_args()

    walls, curves = {}, {}
    with tempfile.TemporaryDirectory() as work:
        for dtype in PRECISIONS:
            print(f"pretraining {args.train_steps} steps in {dtype} ...", file=sys.stderr, flush=True)
            walls[dtype] = _pretrain(args, dtype, os.path.join(work, dtype))
            curves[dtype] = metric_rows(os.path.join(work, dtype, "metrics.csv"))
        shutil.rmtree(work, ignore_errors=True)

    plot = os.path.splitext(args.output)[0] + ".png"
    _plot(curves, plot)
    header = ["step"] + [f"{column} ({'fp32' if dtype == 'float32' else 'bf16'})"
                         for column in COLUMNS for dtype in PRECISIONS]
    lines = [f"`python benchmarks/bf16_curves.py {' '.join(sys.argv[1:])}`", "",
             f"`albert pretrain` {args.train_steps} steps, batch {args.batch_size}, seed {args.seed}, "
             f"config {os.path.basename(args.config)}; whole-process wall time: "
             + ", ".join(f"{dtype} {walls[dtype]:.0f} s" for dtype in PRECISIONS)
             + f" (bf16 {walls['float32'] / walls['mixed_bfloat16']:.2f}x faster)", "",
             "| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    for fp32, bf16 in zip(*(curves[dtype] for dtype in PRECISIONS)):
        cells = [f"{int(fp32['step'])}"] + [f"{row[column]:.4f}" for column in COLUMNS for row in (fp32, bf16)]
        lines.append("| " + " | ".join(cells) + " |")
    last = {dtype: curves[dtype][-1] for dtype in PRECISIONS}
    lines += ["", f"Final held-out loss: float32 {last['float32']['val_loss']:.4f}, mixed_bfloat16 "
              f"{last['mixed_bfloat16']['val_loss']:.4f}.", "", f"![curves]({os.path.basename(plot)})"]
    from albert_tf.io_utils import atomic_write_text

    atomic_write_text(args.output, "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
