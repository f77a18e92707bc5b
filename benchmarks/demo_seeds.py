"""Spread of the demo's pretrained-vs-scratch difference over fine-tuning seeds.

One demo run's accuracies are noisy. This script takes a finished `albert demo`
run (its pretrained model, vocabulary and sentiment split) and fine-tunes both
twins again with seeds 1..N (each seed: the same learning-rate grid, the rate
chosen on dev, test scored once), then reports the test and out-of-domain
accuracy of both and their difference: mean, standard deviation, min and max.
Pretraining itself is not repeated (one pretrained model; the seeds vary the
heads' initialization, the scratch twin's whole initialization and the data
order).

    python benchmarks/demo_seeds.py --run runs/demo --seeds 3

Writes benchmarks/results/demo_seeds.md and demo_seeds.json; the fine-tuning
runs go to runs/demo_seeds/ (resumable: rerun the same command after a kill).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import sys
import time

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default="runs/demo", help="a finished albert demo run folder")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 1..N")
    parser.add_argument("--learning-rates", default=None,
                        help="comma-separated grid (default: the demo run's --finetune-learning-rates)")
    parser.add_argument("--chosen-only", action="store_true",
                        help="no grid: each twin with the learning rate the demo run chose on dev (cheaper)")
    parser.add_argument("--epochs", type=int, default=None, help="default: the demo run's")
    parser.add_argument("--work-dir", default="runs/demo_seeds")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    from albert_tf.config import AlbertConfig
    from albert_tf.demo.baselines import accuracy
    from albert_tf.demo.sentiment_data import LABELS, read_split_file
    from albert_tf.demo.twins import FROM_SCRATCH, PRETRAINED, TwinSettings, finetune_twins, predict_labels

    run = pathlib.Path(args.run)
    state = json.loads((run / "demo_state.json").read_text(encoding="utf-8"))
    if not state.get("finished"):
        raise SystemExit(f"{run} is not a finished demo run; run `albert demo --output-dir {run}` first")
    settings = state["settings"]
    if settings.get("glue_dir"):
        raise SystemExit(f"{run} fine-tuned on GLUE; this benchmark measures the sentiment demo")
    grid = tuple(float(v) for v in args.learning_rates.split(",")) if args.learning_rates \
        else tuple(settings["finetune_learning_rates"])
    epochs = args.epochs or settings["finetune_epochs"]
    config = AlbertConfig.from_preset("tiny").replace(vocab_size=settings["vocab_size"],
                                                      max_position_embeddings=max(settings["seq_length"], 128))
    data_dir = run / "sentiment"
    sets = {"test": read_split_file(data_dir / "test.tsv")}
    for name in ("tweets", "amazonReviewSnippets"):
        if (data_dir / f"{name}.tsv").exists():
            sets[name] = read_split_file(data_dir / f"{name}.tsv")

    grids = {twin: grid for twin in (PRETRAINED, FROM_SCRATCH)}
    if args.chosen_only:
        grids = {twin: (_chosen_learning_rate(run / "finetune" / twin),) for twin in grids}
    rows = []
    started = time.perf_counter()
    for seed in range(1, args.seeds + 1):
        chosen = {}
        for twin, twin_grid in grids.items():
            chosen.update(finetune_twins(TwinSettings(
                data_dir=str(data_dir), task="tsv", pretrained_preset=str(run / "pretrain" / "model"),
                spm_model=str(run / "vocab" / "spm.model"), config=config, learning_rates=twin_grid, epochs=epochs,
                batch_size=settings["finetune_batch_size"], seq_length=settings["export_seq_length"], seed=seed,
                # Runs recorded before the demo had --finetune-dtype fine-tuned in float32.
                dtype=settings.get("finetune_dtype", "float32"), labels=LABELS, progress=not args.no_progress, twins=(twin,),
            ), pathlib.Path(args.work_dir) / f"seed-{seed}", log=print))
        row = {"seed": seed}
        for twin, picked in chosen.items():
            row[twin] = {"learning_rate": picked["learning_rate"], "dev": picked["dev"]}
            for name, (texts, labels) in sets.items():
                row[twin][name] = accuracy(predict_labels(picked["preset"], texts, progress=not args.no_progress),
                                           labels)
        rows.append(row)
        print(json.dumps(row))
    seconds = time.perf_counter() - started

    summary = {}
    for name in sets:
        differences = [row["pretrained"][name] - row["from_scratch"][name] for row in rows]
        summary[name] = {
            "pretrained_mean": statistics.mean(row["pretrained"][name] for row in rows),
            "from_scratch_mean": statistics.mean(row["from_scratch"][name] for row in rows),
            "difference_mean": statistics.mean(differences),
            "difference_std": statistics.stdev(differences) if len(differences) > 1 else 0.0,
            "difference_min": min(differences), "difference_max": max(differences),
        }
    RESULTS.mkdir(exist_ok=True)
    record = {"run": str(run), "seeds": args.seeds, "grids": grids, "epochs": epochs, "rows": rows,
              "summary": summary, "seconds": seconds, "machine": f"{platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} CPUs (shared with other jobs while measured)"}
    (RESULTS / "demo_seeds.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    (RESULTS / "demo_seeds.md").write_text(_markdown(record, sets), encoding="utf-8")
    print(f"wrote {RESULTS / 'demo_seeds.md'}")
    return 0


def _markdown(record: dict, sets: dict) -> str:
    names = list(sets)
    lines = [
        "# Pretrained vs from scratch over fine-tuning seeds (`benchmarks/demo_seeds.py`)", "",
        f"Demo run `{record['run']}`: one pretrained albert_tiny; for each seed both twins are fine-tuned on the "
        "movie-review train split with the learning rates "
        + "; ".join(f"{twin.replace('_', ' ')} {', '.join(f'{v:g}' for v in grid)}"
                    for twin, grid in record["grids"].items())
        + f" for {record['epochs']} epochs (of several, the one best on dev), and scored once on test and the "
        f"out-of-domain sets. {record['machine']}; {record['seconds'] / 60:.1f} minutes in all.", "",
        "| seed | twin | lr | dev | " + " | ".join(names) + " |", "|---|---|---:|---:|" + "---:|" * len(names)]
    for row in record["rows"]:
        for twin in ("pretrained", "from_scratch"):
            values = row[twin]
            lines.append(f"| {row['seed']} | {twin.replace('_', ' ')} | {values['learning_rate']:g} | "
                         f"{values['dev']:.1%} | " + " | ".join(f"{values[n]:.1%}" for n in names) + " |")
    lines += ["", "Pretrained minus from scratch, in accuracy points:", "",
              "| set | pretrained (mean) | from scratch (mean) | difference mean | std | min | max |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for name, s in record["summary"].items():
        lines.append(f"| {name} | {s['pretrained_mean']:.1%} | {s['from_scratch_mean']:.1%} | "
                     f"{100 * s['difference_mean']:+.1f} | {100 * s['difference_std']:.1f} | "
                     f"{100 * s['difference_min']:+.1f} | {100 * s['difference_max']:+.1f} |")
    return "\n".join(lines) + "\n"


def _chosen_learning_rate(twin_dir: pathlib.Path) -> float:
    """The learning rate of the run with the best dev score among `twin_dir/lr-*` (as the demo chose)."""
    scores = {float(path.parent.name[3:]): json.loads(path.read_text(encoding="utf-8"))["value"]
              for path in sorted(twin_dir.glob("lr-*/best.json"))}
    if not scores:
        raise SystemExit(f"no fine-tuning runs in {twin_dir}")
    return max(scores, key=scores.get)


if __name__ == "__main__":
    sys.exit(main())
