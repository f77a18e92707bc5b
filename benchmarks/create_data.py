"""Pretraining-data creation speed: `albert create-data` beside the original script.

Both run as whole processes on the same text (one sentence per line, a blank
line between documents), with the same settings (seq 128, 20 predictions,
dupe factor 5, the real ALBERT vocabulary). The Wikipedia excerpt is first
extracted to such text with albert_tf's reader (timed separately), because the
original script reads only text.

The original google-research `create_pretraining_data.py` runs under TF 2.20
once `tensorflow_hub` (imported but unused with a SentencePiece vocabulary)
resolves: give `--original-repo` (a checkout of google-research/albert) and,
if needed, `--original-pythonpath` (a folder with a stub `tensorflow_hub.py`).
Neither is part of this project.

Usage:
    python benchmarks/create_data.py [--original-repo ../peers/albert --original-pythonpath ../peers/shim]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

DEFAULT_CORPUS = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "corpus" / (
    "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2")
DEFAULT_SPM = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "albert" / "spiece.model"
SETTINGS = dict(max_seq_length=128, max_predictions_per_seq=20, dupe_factor=5)


def count_records(paths):
    import tensorflow as tf

    return sum(1 for path in paths for _ in tf.data.TFRecordDataset(str(path)))


def timed(command, env=None):
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--spm-model", default=str(DEFAULT_SPM))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--original-repo", help="checkout of google-research/albert (optional)")
    parser.add_argument("--original-pythonpath", default="", help="extra PYTHONPATH for the original (stubs)")
    args = parser.parse_args()

    from albert_tf.data.documents import read_documents

    work = pathlib.Path(tempfile.mkdtemp(prefix="albert-bench-"))
    start = time.perf_counter()
    text = work / "corpus.txt"
    with open(text, "w", encoding="utf-8") as handle:
        for document in read_documents(args.corpus):
            handle.write("\n".join(document) + "\n\n")
    extraction = time.perf_counter() - start
    print(f"extracted {args.corpus} to text in {extraction:.1f} s", file=sys.stderr)

    quiet = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    startup = statistics.median(timed([sys.executable, "-c", "import albert_tf"], quiet) for _ in range(3))
    rows = []
    for workers in (1, 2):
        seconds, examples = [], 0
        for repeat in range(args.repeats):
            output = work / f"ours-{workers}-{repeat}"
            seconds.append(timed([
                sys.executable, "-m", "albert_tf.cli.main", "create-data", "--input", str(text),
                "--spm-model", args.spm_model, "--output-dir", str(output), "--no-progress",
                "--num-workers", str(workers), "--documents-per-shard", "16",
                "--max-seq-length", str(SETTINGS["max_seq_length"]),
                "--max-predictions-per-seq", str(SETTINGS["max_predictions_per_seq"]),
                "--dupe-factor", str(SETTINGS["dupe_factor"]),
            ], quiet))
            examples = count_records(sorted(output.glob("part-*.tfrecord")))
        rows.append((f"albert_tf create-data, {workers} worker(s)", statistics.median(seconds), examples))

    if args.original_repo:
        repo = pathlib.Path(args.original_repo).resolve()
        env = dict(quiet, PYTHONPATH=os.pathsep.join(filter(None, [args.original_pythonpath, str(repo.parent)])))
        seconds = []
        for repeat in range(args.repeats):
            output = work / f"original-{repeat}.tfrecord"
            seconds.append(timed([
                sys.executable, "-m", f"{repo.name}.create_pretraining_data", f"--input_file={text}",
                f"--output_file={output}", f"--spm_model_file={args.spm_model}", f"--vocab_file={args.spm_model}",
                f"--max_seq_length={SETTINGS['max_seq_length']}",
                f"--max_predictions_per_seq={SETTINGS['max_predictions_per_seq']}",
                f"--dupe_factor={SETTINGS['dupe_factor']}", "--do_lower_case=True",
            ], env))
        rows.append(("google-research create_pretraining_data.py (1 process)", statistics.median(seconds),
                     count_records([work / "original-0.tfrecord"])))

    print(f"\nPretraining data from {pathlib.Path(args.corpus).name}: seq {SETTINGS['max_seq_length']}, "
          f"dupe factor {SETTINGS['dupe_factor']}, median of {args.repeats} whole-process runs; "
          f"process start-up (import albert_tf / TensorFlow) {startup:.1f} s\n")
    print("| implementation | wall s | examples | examples/s (wall) | examples/s (after start-up) |")
    print("|---|---|---|---|---|")
    for name, seconds, examples in rows:
        print(f"| {name} | {seconds:.1f} | {examples:,} | {examples / seconds:,.0f} | "
              f"{examples / max(seconds - startup, 1e-9):,.0f} |")


if __name__ == "__main__":
    main()
