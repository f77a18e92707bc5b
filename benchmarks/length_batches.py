"""Fine-tuning and prediction on real sentences: batches cut to their longest sequence against full length.

`albert finetune` and `predict` / `classify` on text cut each batch of a classifier to its longest
sequence (albert_tf.length_batches); before, every batch was `--max-seq-length` long, as Keras'
own `fit` on a KerasHub preprocessor still pads. This times both on SST-2 (../shared/data) with an
albert_tiny-shaped classifier (random weights; the real 30k ALBERT vocabulary), in one process,
interleaved round by round:

* fine-tuning: `--steps` optimizer steps of batch 32 (AdamW, as `albert finetune`) on the training
  sentences in `albert finetune`'s seeded order, through `fit`, two models from the same initial weights,
  one on full-length batches and one on cut batches: the median time between steps, and the loss
  after the steps of both;
* prediction: `classify` on the dev sentences, full length against sorted by length and cut; the
  largest difference of their logits.

The floor is the full-length time scaled by the share of token positions the cut batches keep:
what the cut would save if a step's time were proportional to its tokens.

Usage:
    python benchmarks/length_batches.py [--max-seq-length 128] [--steps 40] [--rounds 3] [--output FILE]
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
DATA = pathlib.Path(os.environ.get("ALBERT_SHARED_DATA") or ROOT.parent / "shared" / "data")
SST2 = DATA / "glue" / "SST-2"
SPM = DATA / "albert" / "spiece.model"
BATCH = 32


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-seq-length", type=int, default=128, help="albert finetune's default for GLUE")
    parser.add_argument("--steps", type=int, default=40, help="fine-tuning steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians reported)")
    parser.add_argument("--output", help="also write the table (markdown), written aside and renamed")
    args = parser.parse_args()
    for option in ("max_seq_length", "steps", "rounds"):
        if getattr(args, option) < (3 if option == "max_seq_length" else 1):
            parser.error(f"--{option.replace('_', '-')} is too small")  # exit code 2, one line
    for path in (SPM, SST2 / "train.tsv", SST2 / "dev.tsv"):
        if not path.is_file():
            parser.error(f"{path} not found: put the shared data beside the checkout or set ALBERT_SHARED_DATA")

    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np
    import tensorflow as tf

    from albert_tf import AlbertConfig, AlbertGraphTokenizer
    from albert_tf.io_utils import atomic_write_text
    from albert_tf.length_batches import LengthTrim, length_sorted_dataset, sequence_lengths
    from albert_tf.preprocessor import AlbertPreprocessor
    from albert_tf.training.trainer import EpochBatches
    from classifier_cases import albert_tf_classifier
    from albert_tf.export.representative_data import read_labeled_tsv

    preprocessor = AlbertPreprocessor(AlbertGraphTokenizer(SPM, name="tokenizer"), args.max_seq_length)
    train_texts, train_labels = read_labeled_tsv(SST2 / "train.tsv")
    dev_texts, _ = read_labeled_tsv(SST2 / "dev.tsv")
    config = AlbertConfig.from_preset("tiny")  # albert_tiny with the released 30k vocabulary
    models = {"full": albert_tf_classifier(config, preprocessor), "cut": albert_tf_classifier(config, preprocessor)}
    used = (args.rounds + 1) * args.steps * BATCH  # the rows the warm-up and the rounds train on
    rows = min(len(train_texts), max(used, 4096))
    features, _ = models["full"].text_features(train_texts[:rows])
    inputs = {name: value.numpy() for name, value in features.items()}
    labels = np.asarray(train_labels[:rows], np.int32)
    batches = {"full": EpochBatches((inputs, labels), BATCH, epochs=2, seed=12345),
               "cut": EpochBatches((inputs, labels), BATCH, epochs=2, seed=12345, trim=LengthTrim())}

    def train(name: str, first: int) -> tuple[float, float]:
        """The loss after `--steps` steps from step `first`, and the median step time (from `fit`'s callbacks:
        `fit`'s own start and end, the same for both, left out)."""
        ends = [time.perf_counter()]
        callback = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: ends.append(
            time.perf_counter()))
        history = models[name].fit(batches[name].steps(first, args.steps), steps_per_epoch=args.steps, epochs=1,
                                   verbose=0, callbacks=[callback])
        return float(history.history["loss"][-1]), statistics.median(np.diff(ends[1:]))

    def classify_full() -> np.ndarray:  # tokenized as `predict` on text tokenizes, every batch full length
        features, _ = models["full"].text_features(dev_texts)
        return keras.Model.predict(models["full"], features, batch_size=BATCH, verbose=0)

    def classify_cut() -> np.ndarray:
        return models["full"].predict(dev_texts, batch_size=BATCH, verbose=0)

    print("warming up ...", file=sys.stderr, flush=True)
    for name in models:
        train(name, 0)
    classify_full(), classify_cut()
    times: dict[str, list[float]] = {name: [] for name in ("train full", "train cut", "predict full", "predict cut")}
    losses: dict[str, float] = {}
    for round_index in range(args.rounds):
        first = (round_index + 1) * args.steps
        order = ["full", "cut"] if round_index % 2 == 0 else ["cut", "full"]
        for name in order:
            losses[name], step_seconds = train(name, first)
            times[f"train {name}"].append(step_seconds)
        for name, run in (("full", classify_full), ("cut", classify_cut))[::1 if round_index % 2 == 0 else -1]:
            start = time.perf_counter()
            run()
            times[f"predict {name}"].append(time.perf_counter() - start)
        print(f"round {round_index + 1} of {args.rounds} done", file=sys.stderr, flush=True)
    logit_gap = float(np.max(np.abs(classify_full() - classify_cut())))

    # The token positions each way computes: the training batches of the timed steps, the dev set's batches.
    timed = range(args.steps, (args.rounds + 1) * args.steps)
    train_share = (sum(int(np.prod(batch[0]["input_mask"].shape)) for batch in batches["cut"].steps(timed[0], len(timed)))
                   / (len(timed) * BATCH * args.max_seq_length))
    dev_features = {name: value.numpy() for name, value in models["full"].text_features(dev_texts)[0].items()}
    dataset, _ = length_sorted_dataset(dev_features, BATCH, LengthTrim())
    predict_share = (sum(int(np.prod(batch["input_mask"].shape)) for batch in dataset)
                     / (len(dev_texts) * args.max_seq_length))
    median = {name: statistics.median(values) for name, values in times.items()}

    lines = [f"albert_tiny-shaped classifier (30k vocabulary, random weights), SST-2, --max-seq-length "
             f"{args.max_seq_length}, batch {BATCH}; median of {args.rounds} interleaved rounds; fine-tuning: "
             f"{args.steps} steps a round on the training sentences (mean length "
             f"{sequence_lengths(inputs).mean():.1f} tokens); prediction: the {len(dev_texts)} dev sentences "
             f"(mean {sequence_lengths(dev_features).mean():.1f} tokens); {platform.machine()}, {os.cpu_count()} "
             f"cores, TensorFlow {tf.__version__}", "",
             "| work | full length | cut to the longest | speed-up | floor (full x token share) | share of tokens |",
             "|---|---:|---:|---:|---:|---:|",
             f"| fine-tuning step | {1000 * median['train full']:.1f} ms | {1000 * median['train cut']:.1f} ms | "
             f"{median['train full'] / median['train cut']:.2f}x | {1000 * median['train full'] * train_share:.1f} ms | "
             f"{train_share:.2f} |",
             f"| classify the dev set | {median['predict full']:.2f} s | {median['predict cut']:.2f} s | "
             f"{median['predict full'] / median['predict cut']:.2f}x | {median['predict full'] * predict_share:.2f} s | "
             f"{predict_share:.2f} |", "",
             f"Loss after the last round's steps: full length {losses['full']:.4f}, cut {losses['cut']:.4f} (the "
             f"same batches from the same weights); largest difference of the dev logits: {logit_gap:.2e}."]
    print("\n".join(lines))
    if args.output:
        atomic_write_text(args.output, f"`python benchmarks/length_batches.py {' '.join(sys.argv[1:])}`\n\n"
                          + "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
