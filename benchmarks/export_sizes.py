"""Export benchmark: file size, LiteRT latency and SST-2 dev accuracy per quantization.

Two models:
* albert_tiny preset fine-tuned briefly on SST-2 train rows (AlbertClassifier +
  keras fit) -> size, latency and dev accuracy for Keras fp32 and the four
  TFLite variants;
* albert_base preset with random weights -> size and latency only.

Latency: batch 1 x 128 in `ai_edge_litert.interpreter.Interpreter`, 2 threads,
median of --runs invocations after warm-up. Sizes are the bare converted
model (no metadata). Writes benchmarks/results/export.md.

    python benchmarks/export_sizes.py [--train-rows 4000] [--runs 30]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import platform
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the top-level `export` package, also without a reinstall
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from albert_tf import AlbertConfig, AlbertTokenizer  # noqa: E402
from albert_tf.backbone import AlbertBackbone  # noqa: E402
from albert_tf.tasks import AlbertClassifier  # noqa: E402
from export.representative_data import encode_texts, read_labeled_tsv, representative_dataset  # noqa: E402
from export.tflite import QUANTIZATIONS, convert_ids_model, make_interpreter, run_ids_model  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
SEQ = 128
NAMES = {"none": "TFLite fp32", "fp16": "TFLite fp16", "dynamic": "TFLite dynamic int8", "int8": "TFLite full int8"}


def latency_ms(flatbuffer: bytes, runs: int) -> float:
    interpreter = make_interpreter(flatbuffer, num_threads=2)
    runner = interpreter.get_signature_runner("serving_default")
    rng = np.random.default_rng(0)
    inputs = {"input_word_ids": rng.integers(5, 30000, (1, SEQ)).astype(np.int32),
              "input_mask": np.ones((1, SEQ), np.int32), "input_type_ids": np.zeros((1, SEQ), np.int32)}
    for _ in range(3):
        runner(**inputs)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        runner(**inputs)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def keras_latency_ms(model, runs: int) -> float:
    import tensorflow as tf

    inputs = {"input_word_ids": tf.ones((1, SEQ), tf.int32), "input_mask": tf.ones((1, SEQ), tf.int32),
              "input_type_ids": tf.zeros((1, SEQ), tf.int32)}
    call = tf.function(lambda x: model(x, training=False))
    for _ in range(3):
        call(inputs)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call(inputs).numpy()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def keras_size(model) -> int:
    return sum(int(np.prod(w.shape)) * 4 for w in model.weights)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-rows", type=int, default=4000)
    parser.add_argument("--train-seq", type=int, default=64)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "export.md"))
    args = parser.parse_args()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(2)
    keras.utils.set_random_seed(0)
    tokenizer = AlbertTokenizer(DATA / "albert" / "spiece.model")
    train_texts, train_labels = read_labeled_tsv(DATA / "glue" / "SST-2" / "train.tsv", limit=args.train_rows)
    dev_texts, dev_labels = read_labeled_tsv(DATA / "glue" / "SST-2" / "dev.tsv")
    dev = encode_texts(tokenizer, dev_texts, SEQ)

    tiny = AlbertClassifier(AlbertBackbone(AlbertConfig.from_preset("tiny")), num_classes=2)
    tiny.compile(optimizer=keras.optimizers.Adam(1e-3),
                 loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    start = time.time()
    tiny.fit(encode_texts(tokenizer, train_texts, args.train_seq), train_labels, batch_size=32, epochs=1, verbose=0)
    train_seconds = time.time() - start
    keras_probs = np.asarray(tiny.predict(dev, batch_size=64, verbose=0))
    rows = [("albert_tiny (SST-2)", "Keras fp32", keras_size(tiny), keras_latency_ms(tiny, args.runs),
             float(np.mean(keras_probs.argmax(-1) == dev_labels)))]
    data = representative_dataset(tokenizer, dev_texts, SEQ, limit=200)
    for quantize in QUANTIZATIONS:
        flatbuffer = convert_ids_model(tiny, SEQ, quantize, data)
        probs = run_ids_model(make_interpreter(flatbuffer, num_threads=2), dev)["probabilities"]
        rows.append(("albert_tiny (SST-2)", NAMES[quantize], len(flatbuffer), latency_ms(flatbuffer, args.runs),
                     float(np.mean(probs.argmax(-1) == dev_labels))))

    base = AlbertClassifier(AlbertBackbone(AlbertConfig.from_preset("base")), num_classes=2)
    rows.append(("albert_base (random)", "Keras fp32", keras_size(base), keras_latency_ms(base, args.runs), None))
    for quantize in QUANTIZATIONS:
        flatbuffer = convert_ids_model(base, SEQ, quantize, data)
        rows.append(("albert_base (random)", NAMES[quantize], len(flatbuffer), latency_ms(flatbuffer, args.runs),
                     None))

    lines = [
        "# Export: size, latency, accuracy per quantization",
        "",
        f"`python benchmarks/export_sizes.py` on {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPU cores shared with other jobs (latencies are noisy upper bounds). Latency: batch 1 x "
        f"{SEQ}, ai_edge_litert Interpreter (XNNPACK), 2 threads, median of {args.runs}; Keras: tf.function, same "
        "input. Sizes: bare .tflite (no metadata; MediaPipe metadata adds the 760 kB spm model); Keras: fp32 "
        f"weights. albert_tiny fine-tuned 1 epoch on the first {args.train_rows} SST-2 train rows at length "
        f"{args.train_seq} ({train_seconds:.0f} s), evaluated on all {len(dev_labels)} dev rows at length {SEQ}. "
        "Full int8 calibrated on 200 SST-2 dev sentences (TFLITE_BUILTINS_INT8).",
        "",
        "| model | format | size (MB) | size / fp32 | latency (ms) | latency / fp32 | SST-2 dev acc |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for model_name in dict.fromkeys(r[0] for r in rows):
        group = [r for r in rows if r[0] == model_name]
        fp32 = next(r for r in group if r[1] == "TFLite fp32")
        for _, fmt, size, latency, accuracy in group:
            acc = f"{accuracy:.2%}" if accuracy is not None else "-"
            lines.append(f"| {model_name} | {fmt} | {size / 1e6:.2f} | {size / fp32[2]:.2f} | {latency:.2f} | "
                         f"{latency / fp32[3]:.2f} | {acc} |")
    text = "\n".join(lines) + "\n"
    pathlib.Path(args.output).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
