"""float32 against mixed_bfloat16 fine-tuning: wall time, dev accuracy and loss curves, over seeds.

`--dtype auto` picks mixed_bfloat16 on a CPU with native bfloat16 for pretraining because
bf16_curves.py measured it faster with the same curves. This is the same question for
fine-tuning a sentence classifier: it runs `albert finetune` once per precision and seed, each
as a whole process, on the same data and settings, and reports each run's wall time, its dev
accuracy at every evaluation and its training loss, with the per-seed differences.

The defaults are the demo's sentiment fine-tuning (`albert demo` writes the data under
runs/demo/sentiment and the pretrained model under runs/demo/pretrain/model): 2 epochs of
batch 32 at 64 tokens, learning rate 3e-4, dev evaluated 10 times.

Usage:
    python benchmarks/bf16_finetuning.py --data-dir runs/demo/sentiment --init runs/demo/pretrain/model \\
        --seeds 1 2 3 --output benchmarks/results/bf16_finetuning.md
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

from bf16_curves import metric_rows

PRECISIONS = ("float32", "mixed_bfloat16")


def _finetune(args, dtype: str, seed: int, output_dir: str) -> float:
    command = [sys.executable, "-m", "albert_tf.cli.main", "finetune", "--task", "tsv", "--data-dir", args.data_dir,
               "--init", args.init, "--output-dir", output_dir, "--text-column", args.text_column,
               "--label-column", args.label_column, "--epochs", str(args.epochs),
               "--learning-rate", str(args.learning_rate), "--batch-size", str(args.batch_size),
               "--max-seq-length", str(args.max_seq_length), "--eval-every", str(args.eval_every),
               "--seed", str(seed), "--dtype", dtype, "--no-progress"]
    start = time.perf_counter()
    finished = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if finished.returncode:
        lines = finished.stderr.strip().splitlines() or [f"exit code {finished.returncode}"]
        print(f"error: albert finetune --dtype {dtype} --seed {seed} failed: {lines[-1]}", file=sys.stderr)
        sys.exit(2)
    return time.perf_counter() - start


def _plot(runs: dict[tuple[str, int], dict]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    colors = {"float32": "tab:blue", "mixed_bfloat16": "tab:orange"}
    first_seed = min(seed for _, seed in runs)  # one legend entry per precision
    for (dtype, seed), run in runs.items():
        steps = [row["step"] for row in run["curve"]]
        for axis, column in zip(axes, ("loss", "dev_accuracy")):
            axis.plot(steps, [row[column] for row in run["curve"]], color=colors[dtype], alpha=0.8,
                      label=dtype if seed == first_seed else None)
    for axis, title in zip(axes, ("training loss (Keras' running mean within each epoch)", "dev accuracy")):
        axis.set_title(title)
        axis.set_xlabel("step")
        axis.legend()
    figure.tight_layout()
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=110)
    return png.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True, help="train.tsv and dev.tsv with a text and a label column")
    parser.add_argument("--init", required=True, help="the preset to fine-tune (it carries its tokenizer)")
    parser.add_argument("--text-column", default="sentence")
    parser.add_argument("--label-column", default="label")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-seq-length", type=int, default=64)
    parser.add_argument("--eval-every", type=int, default=53, help="steps between dev evaluations (the curve)")
    parser.add_argument("--output", default=None, help="markdown table (a .png and .json beside it)")
    args = parser.parse_args()
    for name in ("train.tsv", "dev.tsv"):
        if not os.path.isfile(os.path.join(args.data_dir, name)):
            parser.exit(2, f"error: --data-dir {args.data_dir} has no {name}: pass a folder with train.tsv and dev.tsv\n")
    if not os.path.isfile(os.path.join(args.init, "config.json")):
        parser.exit(2, f"error: --init {args.init} is not a preset folder (no config.json): pass one, such as "
                       "runs/demo/pretrain/model\n")

    runs: dict[tuple[str, int], dict] = {}
    with tempfile.TemporaryDirectory(prefix="bf16-finetuning-") as work:
        # Seed by seed, the precisions back to back, so that a drift in the machine's speed hits both alike.
        for seed in args.seeds:
            for dtype in PRECISIONS:
                print(f"seed {seed}, {dtype} ...", file=sys.stderr, flush=True)
                run_dir = os.path.join(work, f"{dtype}-{seed}")
                seconds = _finetune(args, dtype, seed, run_dir)
                with open(os.path.join(run_dir, "eval_results.json")) as results:
                    last = json.load(results)["last"]["scores"]["dev"]["accuracy"]
                runs[dtype, seed] = {"seconds": seconds, "dev_accuracy": last,
                                     "curve": metric_rows(os.path.join(run_dir, "metrics.csv"))}
                print(f"  {seconds:.1f} s, dev accuracy {last:.4f}", file=sys.stderr, flush=True)

    lines = [f"`albert finetune` on {args.data_dir} from {args.init}: {args.epochs} epochs of batch "
             f"{args.batch_size} at {args.max_seq_length} tokens, learning rate {args.learning_rate:g}, dev every "
             f"{args.eval_every} steps; each run a whole process; {platform.machine()}, {os.cpu_count()} cores", "",
             "| seed | float32 s | mixed_bfloat16 s | fp32 / bf16 time | float32 dev acc | mixed_bfloat16 dev acc "
             "| bf16 - fp32 (points) | final loss fp32 | final loss bf16 |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    speedups, differences = [], []
    for seed in args.seeds:
        fp32, bf16 = runs["float32", seed], runs["mixed_bfloat16", seed]
        speedups.append(fp32["seconds"] / bf16["seconds"])
        differences.append(100 * (bf16["dev_accuracy"] - fp32["dev_accuracy"]))
        lines.append(f"| {seed} | {fp32['seconds']:.1f} | {bf16['seconds']:.1f} | {speedups[-1]:.2f}x "
                     f"| {fp32['dev_accuracy']:.4f} | {bf16['dev_accuracy']:.4f} | {differences[-1]:+.2f} "
                     f"| {fp32['curve'][-1]['loss']:.4f} | {bf16['curve'][-1]['loss']:.4f} |")
    spread = statistics.stdev(differences) if len(differences) > 1 else 0.0
    lines += ["", f"bf16 - fp32 dev accuracy: mean {statistics.mean(differences):+.2f} points "
                  f"(sd {spread:.2f}) over {len(args.seeds)} seeds; median time ratio "
                  f"{statistics.median(speedups):.2f}x."]
    print("\n" + "\n".join(lines))
    if args.output:
        from albert_tf.io_utils import atomic_write_bytes, atomic_write_text  # written aside and renamed

        base = os.path.splitext(args.output)[0]
        atomic_write_bytes(base + ".png", _plot(runs))
        atomic_write_text(base + ".json", json.dumps({f"{dtype}/{seed}": run for (dtype, seed), run in runs.items()},
                                                     indent=1))
        atomic_write_text(args.output, f"`python benchmarks/bf16_finetuning.py {' '.join(sys.argv[1:])}`\n\n"
                          + "\n".join(lines) + f"\n\n![curves]({os.path.basename(base)}.png)\n")

if __name__ == "__main__":
    main()
