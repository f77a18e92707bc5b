"""Sentence-order prediction within CPU minutes: the recipe, its random-label control, held-out text.

albert_tiny with an 8,000-piece vocabulary (trained on all training
documents) on the first N training documents of the Wikipedia excerpt (the
demo's split: every 8th document held out),
64-token SOP records, dupe factor 10, batch 32, LAMB 5e-3 with 200 warm-up
steps and the sentence loss weighted 5x, 1,000 steps. Then the same run on a
copy of the records whose labels are coin flips
(`albert_tf.data.label_control`). Both evaluate the held-out documents at
every checkpoint. Writes a markdown table and a plot (SOP accuracy and loss
against the step, both runs) to --results-dir; the run folders go to
--output-dir and resume if rerun.

Usage:
    python benchmarks/sop_recipe.py [--documents 20] [--output-dir runs/sop_recipe]
"""

from __future__ import annotations

import argparse
import csv
import io
import pathlib
import time

HERE = pathlib.Path(__file__).resolve().parent
DEFAULT_CORPUS = HERE.parents[1] / "shared" / "data" / "corpus" / (
    "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2")
RUNS = {"true labels": "recipe", "random labels (control)": "control"}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS), help="Wikipedia XML dump or text")
    parser.add_argument("--output-dir", default="runs/sop_recipe", help="records and run folders")
    parser.add_argument("--results-dir", default=str(HERE / "results"), help="sop_recipe.md and .png")
    parser.add_argument("--documents", type=int, default=20, help="training documents")
    parser.add_argument("--seq-length", type=int, default=64)
    parser.add_argument("--dupe-factor", type=int, default=10)
    parser.add_argument("--train-steps", type=int, default=1000)
    parser.add_argument("--learning-rate", type=float, default=5e-3)
    parser.add_argument("--sentence-loss-weight", type=float, default=5.0)
    return parser.parse_args(argv)


def prepare_records(args: argparse.Namespace, work: pathlib.Path) -> dict[str, pathlib.Path]:
    from albert_tf.data.create_pretraining_data import PretrainingDataConfig, create_pretraining_data
    from albert_tf.data.documents import read_documents
    from albert_tf.data.label_control import copy_with_random_labels
    from albert_tf.io_utils import atomic_write_text
    from albert_tf.spm_training import train_sentencepiece

    documents = list(read_documents(args.corpus))
    training = [d for i, d in enumerate(documents) if i % 8 != 7]
    splits = {"vocab": training, "train": training[:args.documents],
              "heldout": [d for i, d in enumerate(documents) if i % 8 == 7]}
    work.mkdir(parents=True, exist_ok=True)
    for name, docs in splits.items():
        atomic_write_text(work / f"{name}.txt", "\n\n".join("\n".join(doc) for doc in docs) + "\n")
    if not (work / "spm.model").exists():  # the vocabulary from all training documents, as the demo's
        train_sentencepiece([work / "vocab.txt"], work / "spm", vocab_size=8000, progress=False)
    records = {}
    for name, dupe_factor in (("train", args.dupe_factor), ("heldout", 1)):
        records[name] = work / f"records_{name}"
        create_pretraining_data([str(work / f"{name}.txt")], str(work / "spm.model"), str(records[name]),
                                PretrainingDataConfig(max_seq_length=args.seq_length,
                                                      max_predictions_per_seq=round(args.seq_length * 0.15),
                                                      dupe_factor=dupe_factor), progress=False)
    records["control"] = work / "records_train_random_labels"
    if not records["control"].exists():
        copy_with_random_labels(records["train"], records["control"])
    print(f"{len(splits['train'])} training documents, {len(splits['heldout'])} held out")
    return records


def pretrain(args: argparse.Namespace, records: pathlib.Path, heldout: pathlib.Path,
             output: pathlib.Path) -> tuple[list[dict[str, float]], float]:
    from albert_tf import AlbertConfig
    from albert_tf.training.pretraining import PretrainingSettings, run_pretraining

    start = time.perf_counter()
    run_pretraining(PretrainingSettings(
        config=AlbertConfig.from_preset("tiny").replace(vocab_size=8000), records=(str(records),),
        eval_records=(str(heldout),), output_dir=str(output), batch_size=32, train_steps=args.train_steps,
        steps_per_checkpoint=100, learning_rate=args.learning_rate, warmup_steps=200,
        sentence_loss_weight=args.sentence_loss_weight, strategy="one_device", progress=False))
    seconds = time.perf_counter() - start
    with open(output / "metrics.csv", newline="") as handle:
        rows = [{key: float(value) for key, value in row.items() if value not in ("", "NA")}
                for row in csv.DictReader(handle)]
    return rows, seconds


def plot(results: dict[str, list[dict[str, float]]], path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from albert_tf.io_utils import atomic_write_bytes

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for label, rows in results.items():
        steps = [(int(row["epoch"]) + 1) * 100 for row in rows]
        (line,) = right.plot(steps, [row["sop_accuracy"] for row in rows], label=f"{label}: training")
        right.plot(steps, [row["val_sop_accuracy"] for row in rows], linestyle="--", color=line.get_color(),
                   label=f"{label}: held-out documents")
        left.plot(steps, [row["loss"] for row in rows], color=line.get_color(), label=label)
    right.axhline(0.5, color="grey", linestyle=":", linewidth=1)
    right.set(xlabel="step", ylabel="SOP accuracy", ylim=(0.3, 1.0))
    left.set(xlabel="step", ylabel="loss (MLM + weighted SOP)")
    for axis in (left, right):
        axis.grid(alpha=0.3)
        axis.legend(fontsize="small")
    figure.suptitle("albert_tiny, sentence order on 20 Wikipedia documents")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())


def main(argv=None) -> int:
    from albert_tf.io_utils import atomic_write_text

    args = parse_args(argv)
    work = pathlib.Path(args.output_dir)
    records = prepare_records(args, work)
    results, lines = {}, []
    for label, name in RUNS.items():
        rows, seconds = pretrain(args, records["train" if name == "recipe" else "control"], records["heldout"],
                                 work / name)
        results[label] = rows
        quarter = [rows[max(0, round(len(rows) * q) - 1)]["sop_accuracy"] for q in (0.25, 0.5, 0.75, 1.0)]
        lines.append(f"| {label} | {args.train_steps} | {seconds:.0f} | "
                     + " / ".join(f"{value:.1%}" for value in quarter)
                     + f" | {rows[-1]['val_sop_accuracy']:.1%} | {rows[0]['loss']:.2f} -> {rows[-1]['loss']:.2f}"
                     f" | {rows[-1]['mlm_accuracy']:.1%} |")
    results_dir = pathlib.Path(args.results_dir)
    plot(results, results_dir / "sop_recipe.png")
    table = "\n".join([
        "| labels | steps | seconds (incl. held-out eval) | training SOP at 25 / 50 / 75 / 100% | held-out SOP |"
        " loss | MLM accuracy |",
        "|---|---:|---:|---|---:|---|---:|", *lines])
    atomic_write_text(results_dir / "sop_recipe.md",
                      f"`python benchmarks/sop_recipe.py --documents {args.documents}` (training SOP accuracy is"
                      " the mean over each 100-step window)\n\n" + table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
