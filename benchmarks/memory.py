"""Whole-process peak memory (RSS) and step time of ALBERT-base pretraining, with and without `--remat`.

Every case runs in its own subprocess, builds the ALBERT-base pretraining model
with random weights and trains on one random batch (`pretraining_throughput.py`'s
batch: all tokens real, 20 masked positions per sequence) for `--steps` optimizer
steps; the first is the warm-up (tracing, grappler), the others are timed
(median reported). Peak memory is the process's `ru_maxrss` (the kernel's
high-water mark of resident memory, `VmHWM`) at the end: everything the
process ever held at once, the TensorFlow / PyTorch runtime included. For
albert_tf the resident memory after each stage (imports, model built,
optimizer built, first step, last step) is reported too, which shows where
the peak goes.

Cases:
- albert_tf `AlbertPretrainer` (MLM + SOP, LAMB), as `pretraining_throughput.py`
  times it (`model.train_function`, the compiled step `fit` runs), without and
  with `remat=True` (what `albert pretrain --remat` builds);
- KerasHub `AlbertMaskedLM` (MLM only, AdamW) and Hugging Face
  `AlbertForPreTraining` (MLM + SOP, AdamW, PyTorch CPU), when installed, with
  `pretraining_throughput.py`'s cases.

Usage:
    python benchmarks/memory.py                                  # 8 x 128: albert_tf (+ remat) and peers
    python benchmarks/memory.py --seq-length 512 --cases albert_tf albert_tf_remat --steps 3

Each run merges its cases into benchmarks/results/memory.json (keyed by case and
batch shape) and rewrites benchmarks/results/memory.md from it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from subprocess_cases import run_case_in_subprocess  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")

# Measured before this benchmark existed (issue 21): whole-process peak RSS of the base
# training step, 8 x 128 fp32, with the same cases.
BEFORE_GB = {"albert_tf": 2.60, "keras_hub": 2.67, "hugging_face": 2.30}


def _resident_gb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1e6
    return float("nan")


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # kilobytes on Linux


def case_albert_tf(batch, seq_length, masked, steps, layers=12, remat=False):
    stages = {"start": _resident_gb()}
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    import tensorflow as tf

    stages["import tensorflow"] = _resident_gb()
    from albert_tf import AlbertBackbone, AlbertConfig
    from albert_tf.optimization import create_optimizer
    from albert_tf.pretrainer import AlbertPretrainer
    from pretraining_cases import BASE, random_batch

    stages["import albert_tf"] = _resident_gb()
    keras.utils.set_random_seed(0)
    config = AlbertConfig.from_dict({**AlbertConfig.from_preset("base").to_dict(), "num_hidden_layers": layers})
    model = AlbertPretrainer(AlbertBackbone(config, remat=remat))
    stages["model built"] = _resident_gb()
    model.compile(optimizer=create_optimizer("lamb", learning_rate=0.00176, warmup_steps=0, total_steps=10000))
    features = {name: tf.constant(value) for name, value in random_batch(batch, seq_length, masked, BASE['vocab']).items()}
    model.optimizer.build(model.trainable_variables)
    model.make_train_function()
    stages["optimizer built"] = _resident_gb()
    seconds, losses = [], []
    for step in range(steps):
        start = time.perf_counter()
        model.reset_metrics()
        losses.append(float(model.train_function(iter([features]))["loss"]))
        seconds.append(time.perf_counter() - start)
        if step == 0:
            stages["after step 1"] = _resident_gb()
    stages[f"after step {steps}"] = _resident_gb()
    return {"peak_gb": _peak_gb(), "stages_gb": stages, "seconds": seconds[1:], "first_loss": losses[0],
            "last_loss": losses[-1]}


def _peer(name):
    def run(batch, seq_length, masked, steps, layers=12):
        if layers != 12:
            raise SystemExit("--layers is for the albert_tf cases only")
        import pretraining_throughput

        pretraining_throughput.WARMUP_STEPS = 1
        case = getattr(pretraining_throughput, name)
        result = case(batch, seq_length, masked, steps - 1)
        return {"peak_gb": _peak_gb(), "stages_gb": {}, **result}
    return run


CASES = {
    "albert_tf": ("albert_tf AlbertPretrainer (MLM+SOP), LAMB", case_albert_tf),
    "albert_tf_remat": ("albert_tf AlbertPretrainer (MLM+SOP), LAMB, --remat",
                        lambda *a: case_albert_tf(*a, remat=True)),
    "keras_hub": ("KerasHub AlbertMaskedLM (MLM only), AdamW", _peer("case_keras_hub")),
    "hugging_face": ("Hugging Face AlbertForPreTraining (MLM+SOP), AdamW, PyTorch CPU", _peer("case_hugging_face")),
}


def _source_state() -> str:
    """The commit measured, and whether albert_tf/ had uncommitted changes (they are measured too)."""
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                                check=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "albert_tf"], cwd=root, capture_output=True,
                                 text=True, check=True).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    changed = [line[3:] for line in changed if line.strip()]
    return f"commit {commit}" + (f" with uncommitted changes in {', '.join(changed)}" if changed else "")


def _table(entries: dict) -> str:
    lines = [f"ALBERT-base pretraining step, fp32, whole-process peak RSS (ru_maxrss); "
             f"{platform.machine()}, {os.cpu_count()} cores", "",
             "| implementation | batch | peak RSS GB | before (issue 21) GB | seconds/step (median) | command |",
             "|---|---|---|---|---|---|"]
    for key in sorted(entries, key=lambda k: (entries[k]["batch"] * entries[k]["seq_length"],
                                              list(CASES).index(entries[k]["case"]), entries[k].get("layers", 12))):
        entry = entries[key]
        before = BEFORE_GB.get(entry["case"]) if entry["seq_length"] == 128 and entry["batch"] == 8 else None
        depth = "" if entry.get("layers", 12) == 12 else f", {entry['layers']} layer(s)"
        lines.append(f"| {CASES[entry['case']][0]}{depth} | {entry['batch']} x {entry['seq_length']} | "
                     f"{entry['peak_gb']:.2f} | {f'{before:.2f}' if before else ''} | "
                     f"{statistics.median(entry['seconds']):.2f} | `{entry['command']}` |")
    lines += ["", "Resident memory after each stage (albert_tf, GB):", ""]
    staged = [entries[k] for k in sorted(entries) if entries[k]["stages_gb"]]
    if staged:
        names = list(staged[0]["stages_gb"])
        lines.append("| case | batch | " + " | ".join(names[1:-1]) + " | after last step | peak |")
        lines.append("|---" * (len(names) + 2) + "|")
        for entry in staged:
            values = list(entry["stages_gb"].values())
            depth = "" if entry.get("layers", 12) == 12 else f", {entry['layers']} layer(s)"
            lines.append(f"| {entry['case']}{depth} | {entry['batch']} x {entry['seq_length']} | "
                         + " | ".join(f"{value:.2f}" for value in values[1:]) + f" | {entry['peak_gb']:.2f} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq-length", type=int, default=128)
    parser.add_argument("--masked", type=int, default=20, help="masked positions per sequence")
    parser.add_argument("--layers", type=int, default=12,
                        help="albert_tf only: depth (the shared layer's parameters do not change with it)")
    parser.add_argument("--steps", type=int, default=4, help="optimizer steps per case (the first is not timed)")
    parser.add_argument("--no-save", action="store_true", help="print only; leave benchmarks/results alone")
    parser.add_argument("--run-case", choices=list(CASES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.steps < 2:
        parser.error("--steps must be >= 2 (one warm-up step, then timed ones)")

    if args.run_case:
        print(json.dumps(CASES[args.run_case][1](args.batch, args.seq_length, args.masked, args.steps, args.layers)))
        return

    command = " ".join(["python", "benchmarks/memory.py", *sys.argv[1:]])
    path = os.path.join(RESULTS, "memory.json")
    entries = {}
    if os.path.exists(path) and not args.no_save:
        with open(path, encoding="utf-8") as stream:
            entries = json.load(stream)
    for name in args.cases:
        print(f"running {name} at {args.batch} x {args.seq_length} ...", file=sys.stderr, flush=True)
        result, error = run_case_in_subprocess(__file__, name, dict(
            batch=args.batch, seq_length=args.seq_length, masked=args.masked, steps=args.steps, layers=args.layers))
        if error:
            print(f"  {name}: skipped ({error})", file=sys.stderr)
            continue
        print(f"  {name}: peak {result['peak_gb']:.2f} GB, {statistics.median(result['seconds']):.2f} s/step, "
              f"loss {result['first_loss']:.3f} -> {result['last_loss']:.3f}", file=sys.stderr, flush=True)
        depth = "" if args.layers == 12 else f"@{args.layers}layers"
        entries[f"{name}@{args.batch}x{args.seq_length}{depth}"] = {
            "case": name, "batch": args.batch, "seq_length": args.seq_length, "steps": args.steps,
            "layers": args.layers,
            "command": command, "source": _source_state(), **result}
    table = _table(entries)
    print(table)
    if not args.no_save:
        os.makedirs(RESULTS, exist_ok=True)
        for name, text in (("memory.json", json.dumps(entries, indent=2) + "\n"), ("memory.md", table)):
            temporary = os.path.join(RESULTS, f".{name}.partial")
            with open(temporary, "w", encoding="utf-8") as stream:
                stream.write(text)
            os.replace(temporary, os.path.join(RESULTS, name))


if __name__ == "__main__":
    main()
