"""The demo run: corpus -> vocabulary -> records -> pretraining -> fine-tuning
(or fill-mask) -> SavedModel + TFLite bundle -> report, in one run folder.

Every stage leaves its outputs in the run folder and is skipped when they are
already there, so rerunning the same command after an interruption resumes
(pretraining resumes at its last checkpoint). A finished run (its
`report.md` written) is never overwritten: rerunning refuses with a message.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import time
from typing import Any, Callable

from albert_tf.io_utils import atomic_write_text

STATE_FILE = "demo_state.json"
REPORT_FILE = "report.md"
PLOT_FILE = "training_curves.png"
SOP_LABELS = ("in_order", "swapped")


@dataclasses.dataclass(frozen=True)
class DemoSettings:
    """What the demo does; the defaults run in about 10 minutes on 2 CPU cores.

    Args:
        output_dir: the run folder.
        corpus: a text file or Wikipedia XML dump; default: the English
            Wikipedia excerpt from the `gensim==4.4.0` wheel on PyPI.
        glue_dir: a GLUE task folder (`train.tsv`, `dev.tsv`) to fine-tune a
            classifier on; without it the demo shows fill-mask predictions
            and exports the pretrained sentence-order classifier.
        glue_task: the GLUE task name of `glue_dir` (e.g. `sst2`).
        cache_dir: where the downloaded corpus is kept between runs.
        max_documents: read at most this many documents of the corpus.
        vocab_size: SentencePiece pieces (a small corpus wants a small vocabulary).
        seq_length: tokens per pretraining sequence.
        dupe_factor: passes over the training documents, each with new masks.
        train_steps: pretraining steps.
        steps_per_checkpoint: pretraining steps between checkpoints and held-out evaluations.
        batch_size: pretraining batch.
        learning_rate: peak LAMB learning rate.
        finetune_examples: training rows used for fine-tuning.
        finetune_epochs: fine-tuning epochs.
        export_seq_length: the exported models' fixed sequence length.
        progress: progress bars.
    """

    output_dir: str
    corpus: str | None = None
    glue_dir: str | None = None
    glue_task: str = "sst2"
    cache_dir: str = os.path.join(os.path.expanduser("~"), ".cache", "albert_tf")
    max_documents: int | None = None
    vocab_size: int = 8000
    seq_length: int = 128
    dupe_factor: int = 5
    train_steps: int = 2000
    steps_per_checkpoint: int = 200
    batch_size: int = 32
    learning_rate: float = 0.005
    finetune_examples: int = 3000
    finetune_epochs: int = 2
    export_seq_length: int = 64
    progress: bool = True

    def __post_init__(self):
        for name in ("vocab_size", "seq_length", "dupe_factor", "train_steps", "steps_per_checkpoint",
                     "batch_size", "finetune_examples", "finetune_epochs", "export_seq_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"`{name}` must be >= 1. Received: {name}={getattr(self, name)}")
        if self.train_steps % self.steps_per_checkpoint:
            raise ValueError(f"`train_steps` ({self.train_steps}) must be a multiple of `steps_per_checkpoint` "
                             f"({self.steps_per_checkpoint}).")
        if self.corpus is not None and not os.path.isfile(self.corpus):
            raise ValueError(f"Corpus file not found: {self.corpus}")
        if self.glue_dir is not None and not os.path.isfile(os.path.join(self.glue_dir, "train.tsv")):
            raise ValueError(f"No train.tsv in --glue-dir {self.glue_dir}: pass a GLUE task folder such as SST-2.")

    def recorded(self) -> dict[str, Any]:
        """The settings that decide a run's results (not where caches or progress bars go)."""
        values = dataclasses.asdict(self)
        for name in ("output_dir", "cache_dir", "progress"):
            values.pop(name)
        return values


def run_demo(settings: DemoSettings, log: Callable[[str], None] = print) -> pathlib.Path:
    """Runs (or resumes) the demo and returns the path of its `report.md`.

    Raises:
        ValueError: the folder holds a finished run, or a run with other settings.
    """
    run = pathlib.Path(settings.output_dir)
    _claim_run_folder(run, settings)
    timings: dict[str, float] = {}

    def stage(name: str):
        log(f"\n== {name} ==")
        return _Timer(timings, name)

    with stage("corpus"):
        split = _corpus(settings, run, log)
    with stage("vocabulary"):
        spm_model = _vocabulary(settings, run, split, log)
    with stage("pretraining records"):
        records = _records(settings, run, split, spm_model, log)
    with stage("pretraining"):
        pretraining = _pretrain(settings, run, records, spm_model, log)
    with stage("fine-tuning" if settings.glue_dir else "fill-mask"):
        task = _finetune_or_fill_mask(settings, run, split, spm_model, log)
    with stage("export"):
        exported = _export(settings, run, task, spm_model, split, log)

    from albert_tf.demo.report import write_report
    from albert_tf.training.plots import plot_training_curves

    plot_training_curves(str(run / "pretrain" / "metrics.csv"), str(run / PLOT_FILE), settings.steps_per_checkpoint,
                         title="albert_tiny pretraining on the demo corpus")
    report = write_report(run / REPORT_FILE, settings, split, records, pretraining, task, exported, timings)
    _write_state(run, settings, finished=True)
    log(f"\nreport: {report}\nplot:   {run / PLOT_FILE}")
    return report


class _Timer:
    def __init__(self, timings: dict[str, float], name: str):
        self.timings, self.name = timings, name

    def __enter__(self):
        self.start = time.perf_counter()

    def __exit__(self, *exc_info):
        self.timings[self.name] = time.perf_counter() - self.start


def _claim_run_folder(run: pathlib.Path, settings: DemoSettings) -> None:
    state_path = run / STATE_FILE
    if state_path.exists():
        state = json.loads(state_path.read_text(encoding="utf-8"))
        if state.get("finished"):
            raise ValueError(f"{run} holds a finished demo run ({REPORT_FILE}); it is not overwritten. "
                             "Pick another --output-dir, or delete the folder to start again.")
        if state.get("settings") != settings.recorded():
            changed = sorted(name for name, value in settings.recorded().items()
                             if state.get("settings", {}).get(name) != value)
            raise ValueError(f"{run} holds an unfinished demo run with other settings ({', '.join(changed)}); "
                             "rerun with the same flags to resume it, or pick another --output-dir.")
    elif run.exists() and any(run.iterdir()):
        raise ValueError(f"{run} exists and is not a demo run folder; pick another --output-dir.")
    _write_state(run, settings, finished=False)


def _write_state(run: pathlib.Path, settings: DemoSettings, finished: bool) -> None:
    run.mkdir(parents=True, exist_ok=True)
    state = {"settings": settings.recorded(), "finished": finished}
    atomic_write_text(run / STATE_FILE, json.dumps(state, indent=2) + "\n")


def _corpus(settings: DemoSettings, run: pathlib.Path, log):
    from albert_tf.demo.corpus import split_corpus, wikipedia_excerpt

    source = settings.corpus or str(wikipedia_excerpt(settings.cache_dir))
    log(f"corpus: {source}")
    split = split_corpus(source, run / "data", settings.max_documents, progress=settings.progress)
    log(f"{split.train_documents} documents ({split.train_sentences:,} sentences) to train on, "
        f"{split.heldout_documents} ({split.heldout_sentences:,} sentences) held out")
    return split


def _vocabulary(settings: DemoSettings, run: pathlib.Path, split, log) -> str:
    from albert_tf.spm_training import train_sentencepiece

    prefix = run / "vocab" / "spm"
    if not prefix.with_suffix(".model").exists():
        prefix.parent.mkdir(parents=True, exist_ok=True)
        train_sentencepiece([split.train_path], prefix, vocab_size=settings.vocab_size, progress=settings.progress)
    log(f"SentencePiece model: {prefix.with_suffix('.model')} ({settings.vocab_size:,} pieces)")
    return str(prefix.with_suffix(".model"))


def _records(settings: DemoSettings, run: pathlib.Path, split, spm_model: str, log) -> dict[str, Any]:
    from albert_tf.data.create_pretraining_data import PretrainingDataConfig, create_pretraining_data

    counts = {}
    for name, path, dupe_factor in (("train", split.train_path, settings.dupe_factor),
                                    ("heldout", split.heldout_path, 1)):
        config = PretrainingDataConfig(max_seq_length=settings.seq_length,
                                       max_predictions_per_seq=max(1, round(settings.seq_length * 0.15)),
                                       dupe_factor=dupe_factor)
        stats = create_pretraining_data([str(path)], spm_model, str(run / "records" / name), config,
                                        progress=settings.progress)
        counts[name] = _record_count(run / "records" / name)
        log(f"{name}: {counts[name]:,} sequences of {settings.seq_length} tokens")
        del stats
    return {"counts": counts, "train": str(run / "records" / "train"), "heldout": str(run / "records" / "heldout")}


def _record_count(directory: pathlib.Path) -> int:
    return sum(json.loads(path.read_text(encoding="utf-8"))["examples"] for path in directory.glob("stats-*.json"))


def _pretrain(settings: DemoSettings, run: pathlib.Path, records: dict, spm_model: str, log) -> dict[str, Any]:
    from albert_tf.config import AlbertConfig
    from albert_tf.training.pretraining import PretrainingSettings, run_pretraining

    config = AlbertConfig.from_preset("tiny").replace(vocab_size=settings.vocab_size,
                                                      max_position_embeddings=max(settings.seq_length, 128))
    result = run_pretraining(PretrainingSettings(
        config=config, records=(records["train"],), eval_records=(records["heldout"],),
        output_dir=str(run / "pretrain"), batch_size=settings.batch_size, train_steps=settings.train_steps,
        steps_per_checkpoint=settings.steps_per_checkpoint, keep_checkpoints=2,
        learning_rate=settings.learning_rate, warmup_steps=max(1, settings.train_steps // 10),
        strategy="one_device", progress=settings.progress,
    ))
    rows = _metrics_rows(run / "pretrain" / "metrics.csv")
    first, last = rows[0], rows[-1]
    log(f"pretrained {result.final_step} steps: MLM accuracy {float(first['mlm_accuracy']):.1%} -> "
        f"{float(last['mlm_accuracy']):.1%}, SOP accuracy {float(first['sop_accuracy']):.1%} -> "
        f"{float(last['sop_accuracy']):.1%} (held out: MLM {float(last['val_mlm_accuracy']):.1%}, "
        f"SOP {float(last['val_sop_accuracy']):.1%})")
    return {"config": config, "first": first, "last": last, "rows": rows, "final_step": result.final_step,
            "resumed_from_step": result.resumed_from_step}


def _metrics_rows(path: pathlib.Path) -> list[dict[str, str]]:
    import csv

    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _finetune_or_fill_mask(settings: DemoSettings, run: pathlib.Path, split, spm_model: str, log) -> dict[str, Any]:
    import keras

    from albert_tf.tokenizer import AlbertTokenizer

    tokenizer = AlbertTokenizer(spm_model)
    pretrainer = keras.saving.load_model(run / "pretrain" / "pretrainer.keras")
    if settings.glue_dir:
        from albert_tf.finetuning.runner import FinetuneSettings, run_finetuning

        output = run / "finetune"
        results_path = output / "eval_results.json"
        if results_path.exists():
            results = json.loads(results_path.read_text(encoding="utf-8"))
        else:
            results = run_finetuning(FinetuneSettings(
                task=settings.glue_task, data_dir=settings.glue_dir, output_dir=str(output), spm_model=spm_model,
                init_checkpoint=str(run / "pretrain" / "backbone.keras"), epochs=settings.finetune_epochs,
                learning_rate=1e-3, batch_size=32, max_seq_length=settings.export_seq_length,
                max_train_examples=settings.finetune_examples, progress=settings.progress,
            )).results
        log(f"fine-tuned {settings.glue_task}: {json.dumps(results.get('metrics', {}))}")
        classifier = keras.saving.load_model(output / "model.keras")
        labels = _glue_labels(settings.glue_task)
        return {"kind": "finetune", "results": results, "classifier": classifier, "labels": list(labels)}

    from albert_tf.demo.fill_mask import fill_mask

    sentences = [line for line in split.heldout_path.read_text(encoding="utf-8").splitlines() if len(line) > 40]
    scored = fill_mask(pretrainer, tokenizer, sentences, settings.seq_length, max_examples=200)
    examples = scored[:5]
    hit_rate = sum(example.hit for example in scored) / max(1, len(scored))
    log(f"top-1 fill-mask accuracy on {len(scored)} held-out sentences: {hit_rate:.1%}")
    for example in examples:
        guesses = ", ".join(f"{piece} {probability:.1%}" for piece, probability in example.predictions)
        log(f"  {example.masked_text[:90]}\n    answer: {example.answer}; model: {guesses}")
    return {"kind": "fill_mask", "examples": examples, "hit_rate": hit_rate, "scored": len(scored),
            "classifier": sentence_order_classifier(pretrainer),
            "labels": list(SOP_LABELS)}


def _glue_labels(task: str) -> list[str]:
    from albert_tf.finetuning.glue import GLUE_TASKS

    label_list = GLUE_TASKS[task].label_list
    if label_list is None:
        raise ValueError(f"{task} is a regression task; the demo exports classifiers (e.g. --glue-task sst2).")
    return list(label_list)


def sentence_order_classifier(pretrainer):
    """The pretrained SOP head as an `AlbertClassifier` (same structure: a
    dense layer on the pooled output), so it exports like any classifier."""
    from albert_tf.tasks import AlbertClassifier

    classifier = AlbertClassifier(pretrainer.backbone, num_classes=2, name="sentence_order_classifier")
    classifier.get_layer("classifier").set_weights(pretrainer.sop_head.get_weights())
    return classifier


def _export(settings: DemoSettings, run: pathlib.Path, task: dict, spm_model: str, split, log) -> dict[str, Any]:
    import numpy as np

    from albert_tf.tokenizer import AlbertTokenizer
    from albert_tf.export.bundle import export_bundle
    from albert_tf.export.saved_model import export_saved_model
    from albert_tf.export.tflite import make_interpreter, run_ids_model

    classifier, labels = task["classifier"], task["labels"]
    saved_model_base = run / "export" / "saved_model"
    if not (saved_model_base / "1").exists():
        export_saved_model(classifier, saved_model_base, spm_model, seq_length=settings.export_seq_length, version=1)
    bundle_dir = run / "export" / "bundle"
    texts_a, texts_b, expected = _sample_inputs(settings, task, split)
    if not (bundle_dir / "manifest.json").exists():
        export_bundle(classifier, spm_model, bundle_dir, seq_length=settings.export_seq_length,
                      quantizations=("dynamic",), labels=labels)
    log(f"SavedModel: {saved_model_base / '1'}\nbundle:     {bundle_dir}")

    tokenizer = AlbertTokenizer(spm_model)
    rows = [tokenizer.encode_pair(a, b, settings.export_seq_length) for a, b in zip(texts_a, texts_b)]
    inputs = {name: np.asarray([row[name] for row in rows], np.int32) for name in rows[0]}
    keras_probabilities = _softmax(np.asarray(classifier(inputs, training=False), np.float64))
    interpreter = make_interpreter(bundle_dir / "model_dynamic_int8.tflite", num_threads=2)
    tflite_probabilities = run_ids_model(interpreter, inputs)["probabilities"]
    side_by_side = []
    for index, text in enumerate(texts_a):
        keras_row, tflite_row = keras_probabilities[index], tflite_probabilities[index]
        side_by_side.append({
            "text": text if texts_b[index] is None else f"{text} [SEP] {texts_b[index]}",
            "expected": expected[index],
            "keras": labels[int(keras_row.argmax())], "keras_probability": float(keras_row.max()),
            "tflite": labels[int(tflite_row.argmax())], "tflite_probability": float(tflite_row.max()),
        })
        log(f"  true {expected[index]:>9} | keras {side_by_side[-1]['keras']:>9} {keras_row.max():.3f} | "
            f"tflite int8 {side_by_side[-1]['tflite']:>9} {tflite_row.max():.3f} | {side_by_side[-1]['text'][:60]}")
    sizes = {path.name: path.stat().st_size for path in bundle_dir.glob("*.tflite")}
    return {"saved_model": str(saved_model_base / "1"), "bundle": str(bundle_dir), "side_by_side": side_by_side,
            "sizes": sizes, "max_probability_difference": float(np.abs(keras_probabilities - tflite_probabilities).max())}


def _softmax(logits):
    import numpy as np

    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _sample_inputs(settings: DemoSettings, task: dict,
                   split) -> tuple[list[str], list[str | None], list[str]]:
    """A few real inputs and their true labels: GLUE dev sentences, or
    held-out sentence pairs in and out of order."""
    if task["kind"] == "finetune":
        from albert_tf.finetuning.glue import GLUE_TASKS

        glue_task = GLUE_TASKS[settings.glue_task]
        examples = glue_task.read(settings.glue_dir, glue_task.splits[0].dev_file, labelled=True)[:6]
        return ([example.text_a for example in examples], [example.text_b for example in examples],
                [str(example.label) for example in examples])
    documents = [doc.splitlines() for doc in split.heldout_path.read_text(encoding="utf-8").split("\n\n")]
    pairs = [(doc[i], doc[i + 1]) for doc in documents for i in range(0, len(doc) - 1, 7)][:3]
    texts_a = [a for a, _ in pairs] + [b for _, b in pairs]
    texts_b = [b for _, b in pairs] + [a for a, _ in pairs]
    return texts_a, texts_b, [SOP_LABELS[0]] * len(pairs) + [SOP_LABELS[1]] * len(pairs)
