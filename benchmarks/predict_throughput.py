"""Text-in throughput: `albert predict` beside the same model's SavedModel `serve_text` signature.

One albert_tiny classifier (random weights, the real 30k ALBERT vocabulary,
sequence length 128) saved as a preset; the same 1,000 SST-2 sentences go
through four paths, each timed end to end (median of --repeats):

* `albert predict PRESET --input FILE --output FILE` as a whole process
  (interpreter start, TensorFlow import, preset load, tokenization, model),
  and the same on 10 sentences, which measures the start-up;
* the Python API, `load_preset(PRESET).classify(texts)`, model loaded once;
* the TF Serving SavedModel's `serve_text` signature (tokenization in the
  graph), loaded once with `tf.saved_model.load`, called in batches of 32;
* the SavedModel's `serving_default` on token ids (tokenized in Python), as the
  model-only floor.

Writes benchmarks/results/predict_throughput.md. Run:

    python benchmarks/predict_throughput.py [--sentences 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from albert_tf import AlbertConfig, AlbertTokenizer  # noqa: E402
from albert_tf.backbone import AlbertBackbone  # noqa: E402
from albert_tf.export import export_saved_model  # noqa: E402
from albert_tf.export.representative_data import read_labeled_tsv  # noqa: E402
from albert_tf.cli.predict import READ_BATCH  # noqa: E402
from albert_tf.prediction import batched, predict_rows  # noqa: E402
from albert_tf.preprocessor import AlbertPreprocessor  # noqa: E402
from albert_tf.presets import load_preset  # noqa: E402
from albert_tf.tasks import AlbertClassifier  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SPM = DATA / "albert" / "spiece.model"
SEQ = 128
BATCH = 32
STARTUP_SENTENCES = 10  # a process that predicts almost nothing measures start-up
STARTUP_CASE = "`albert predict` start-up"


def timed(function, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "predict_throughput.md"))
    args = parser.parse_args()

    texts, _ = read_labeled_tsv(DATA / "glue" / "SST-2" / "train.tsv", limit=args.sentences)
    work = pathlib.Path(tempfile.mkdtemp(prefix="predict-bench-"))
    preset = work / "preset"
    model = AlbertClassifier(AlbertBackbone(AlbertConfig.from_preset("tiny")), 2,
                             preprocessor=AlbertPreprocessor.from_spm_model(SPM, SEQ),
                             labels=["negative", "positive"])
    model.save_to_preset(preset)
    inputs = work / "texts.txt"
    inputs.write_text("\n".join(texts) + "\n", "utf-8")

    few = work / "few.txt"
    few.write_text("\n".join(texts[:STARTUP_SENTENCES]) + "\n", "utf-8")

    def cli(path: pathlib.Path) -> None:
        subprocess.run([sys.executable, "-m", "albert_tf", "predict", str(preset), "--input", str(path),
                        "--output", str(work / "out.jsonl"), "--batch-size", str(BATCH), "--no-progress"],
                       check=True, capture_output=True)

    loaded = load_preset(preset)
    loaded.classify(texts[:BATCH])  # trace once
    rows_in = [(text,) for text in texts]

    def cli_loop() -> None:  # what `albert predict` runs after start-up
        for batch in batched(rows_in, READ_BATCH):
            predict_rows(loaded, batch, BATCH)

    version = export_saved_model(loaded, work / "serving")
    served = tf.saved_model.load(str(version))
    serve_text = served.signatures["serve_text"]
    serve_ids = served.signatures["serving_default"]

    def through_text() -> None:
        for start in range(0, len(texts), BATCH):
            serve_text(text=tf.constant(texts[start:start + BATCH]))

    tokenizer = AlbertTokenizer(SPM)
    encoded = [tokenizer.encode_pair(text, max_seq_length=SEQ) for text in texts]
    ids = {name: np.asarray([row[name] for row in encoded], np.int32) for name in encoded[0]}

    def through_ids() -> None:
        for start in range(0, len(texts), BATCH):
            serve_ids(**{name: tf.constant(value[start:start + BATCH]) for name, value in ids.items()})

    through_text()
    through_ids()
    cases = {
        "`albert predict` (whole process)": lambda: cli(inputs),
        f"{STARTUP_CASE} (a run on {STARTUP_SENTENCES} sentences)": lambda: cli(few),
        "`albert predict`'s loop after start-up, in process": cli_loop,
        "Python API `classify` (model loaded)": lambda: loaded.classify(texts, batch_size=BATCH),
        "SavedModel `serve_text` (graph tokenizer)": through_text,
        "SavedModel `serving_default` (ids, model only)": through_ids,
    }
    # Interleaved: each repeat runs every case once, so load on a shared machine hits them alike.
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.repeats):
        for name, function in cases.items():
            times[name] += timed(function, 1)
    rows = list(times.items())

    lines = [
        "# Text-in throughput: `albert predict` vs the SavedModel",
        "",
        f"albert_tiny classifier (random weights, 30k vocabulary), sequence length {SEQ}, batch {BATCH}, "
        f"{len(texts)} SST-2 train sentences; median of {args.repeats} interleaved runs "
        f"(`python benchmarks/predict_throughput.py`). Machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, TensorFlow {tf.__version__}.",
        "",
        "| path | seconds | sentences / s |",
        "|---|---:|---:|",
    ]
    for name, measured in rows:
        median = statistics.median(measured)
        rate = "-" if name.startswith(STARTUP_CASE) else f"{len(texts) / median:,.0f}"
        lines.append(f"| {name} | {median:.2f} | {rate} |")
    report = "\n".join(lines) + "\n"
    pathlib.Path(args.output).write_text(report, "utf-8")
    print(report)


if __name__ == "__main__":
    main()
