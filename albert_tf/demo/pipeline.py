"""The demo run: corpus -> vocabulary -> records -> pretraining -> sentiment data -> fine-tuning of the
pretrained model and of a from-scratch twin -> test and out-of-domain evaluation beside the majority class and
VADER -> preset, SavedModel and TFLite bundle -> Keras / TFLite / MediaPipe on the test split -> report.

Every stage leaves its outputs in the run folder and is skipped when they are
already there, so rerunning the same command after an interruption resumes
(pretraining and each fine-tuning run at their last checkpoint). A finished
run (its `report.md` written) is never overwritten: rerunning refuses with a message.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import pathlib
import shutil
import time
from typing import Any, Callable

from albert_tf.io_utils import atomic_write_text

logger = logging.getLogger(__name__)

STATE_FILE = "demo_state.json"
REPORT_FILE = "report.md"
PLOT_FILE = "training_curves.png"
TIMINGS_FILE = "timings.json"
EVALUATION_FILE = "evaluation.json"
ON_DEVICE_FILE = "on_device.json"


@dataclasses.dataclass(frozen=True)
class DemoSettings:
    """What the demo does; the defaults run in about 15 minutes on 2 CPU cores.

    Args:
        output_dir: the run folder.
        corpus: a text file or Wikipedia XML dump to pretrain on; default: the
            English Wikipedia excerpt from the `gensim==4.4.0` wheel on PyPI.
        sentiment_dir: a folder with the `*_GroundTruth.txt` files of the
            VADER paper; default: unpacked from the `vaderSentiment==3.3.2` sdist on PyPI.
        glue_dir: a GLUE task folder (`train.tsv`, `dev.tsv`) to fine-tune on
            instead of the sentiment sentences (then its dev set is the test,
            and there are no baselines or out-of-domain tests).
        glue_task: the GLUE task name of `glue_dir` (e.g. `sst2`).
        cache_dir: where downloads are kept between runs.
        max_documents: read at most this many documents of the corpus.
        vocab_size: SentencePiece pieces (a small corpus wants a small vocabulary).
        seq_length: tokens per pretraining sequence.
        dupe_factor: passes over the training documents, each with new masks.
        train_steps: pretraining steps.
        steps_per_checkpoint: pretraining steps between checkpoints and held-out evaluations.
        batch_size: pretraining batch.
        learning_rate: peak LAMB learning rate.
        pretraining_dtype: `auto` (mixed_bfloat16 on a CPU with native bfloat16, where it is measured
            1.4x faster with the same curves: benchmarks/results/bf16_curves.md; float32 elsewhere) or a
            dtype policy. The run records the policy it resolved to.
        finetune_dtype: the same choice for fine-tuning both twins (`auto`: mixed_bfloat16 where the CPU
            has it, measured 1.15x faster on the demo's fine-tuning with dev accuracy within seed noise:
            benchmarks/results/bf16_finetuning.md). The exported models are float32 either way (mixed
            precision keeps float32 weights).
        finetune_learning_rates: the grid each classifier is fine-tuned with; chosen on dev.
        finetune_epochs: fine-tuning epochs (dev evaluated after each; the best kept).
        finetune_batch_size: fine-tuning batch.
        finetune_examples: use only the first N training sentences (None: all).
        export_seq_length: tokens per sentence when fine-tuning and in the exported models.
        seed: pretraining, fine-tuning (both twins) and data-order seed; the
            sentiment split has its own fixed seed.
        progress: progress bars.
    """

    output_dir: str
    corpus: str | None = None
    sentiment_dir: str | None = None
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
    pretraining_dtype: str = "auto"
    finetune_dtype: str = "auto"
    finetune_learning_rates: tuple[float, ...] = (3e-4, 1e-3)
    finetune_epochs: int = 2
    finetune_batch_size: int = 32
    finetune_examples: int | None = None
    export_seq_length: int = 64
    seed: int = 12345
    progress: bool = True

    def __post_init__(self):
        for name in ("vocab_size", "seq_length", "dupe_factor", "train_steps", "steps_per_checkpoint",
                     "batch_size", "finetune_epochs", "finetune_batch_size", "export_seq_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"`{name}` must be >= 1. Received: {name}={getattr(self, name)}")
        if self.finetune_examples is not None and self.finetune_examples < 1:
            raise ValueError(f"`finetune_examples` must be >= 1 or None. Received: {self.finetune_examples}")
        if not self.finetune_learning_rates or min(self.finetune_learning_rates) <= 0:
            raise ValueError("--finetune-learning-rates must list one or more positive values. Received: "
                             f"{list(self.finetune_learning_rates)}")
        if self.train_steps % self.steps_per_checkpoint:
            raise ValueError(f"`train_steps` ({self.train_steps}) must be a multiple of `steps_per_checkpoint` "
                             f"({self.steps_per_checkpoint}).")
        from albert_tf.training.precision import resolve_dtype
        from albert_tf.training.trainer import DTYPES

        for name in ("pretraining_dtype", "finetune_dtype"):
            if getattr(self, name) not in DTYPES:
                raise ValueError(f"--{name.replace('_', '-')} must be one of {list(DTYPES)}. "
                                 f"Received: {getattr(self, name)!r}")
            # Recorded (and compared on a rerun) as the policy actually used, never "auto".
            object.__setattr__(self, name, resolve_dtype(getattr(self, name)))
        if self.corpus is not None and not os.path.isfile(self.corpus):
            raise ValueError(f"Corpus file not found: {self.corpus}")
        if self.sentiment_dir is not None and not os.path.isdir(self.sentiment_dir):
            raise ValueError(f"--sentiment-dir {self.sentiment_dir} is not a folder; pass the folder of the "
                             "*_GroundTruth.txt files (hutto_ICWSM_2014 in the vaderSentiment sdist)")
        if self.glue_dir is not None and not os.path.isfile(os.path.join(self.glue_dir, "train.tsv")):
            raise ValueError(f"No train.tsv in --glue-dir {self.glue_dir}: pass a GLUE task folder such as SST-2.")

    def recorded(self) -> dict[str, Any]:
        """The settings that decide a run's results (not where caches or progress bars go)."""
        values = dataclasses.asdict(self)
        for name in ("output_dir", "cache_dir", "progress"):
            values.pop(name)
        values["finetune_learning_rates"] = list(values["finetune_learning_rates"])
        return values


def run_demo(settings: DemoSettings, log: Callable[[str], None] = logger.info) -> pathlib.Path:
    """Runs (or resumes) the demo and returns the path of its `report.md`.

    Raises:
        ValueError: the folder holds a finished run, or a run with other settings.
    """
    run = pathlib.Path(settings.output_dir)
    _claim_run_folder(run, settings)
    timings = _Timings(run / TIMINGS_FILE)

    def stage(name: str):
        log(f"\n== {name} ==")
        return timings.measure(name)

    with stage("corpus"):
        split = _corpus(settings, run, log)
    with stage("vocabulary"):
        spm_model = _vocabulary(settings, run, split, log)
    with stage("pretraining records"):
        records = _records(settings, run, split, spm_model, log)
    with stage("pretraining"):
        pretraining = _pretrain(settings, run, records, spm_model, log)
    with stage("sentiment data" if settings.glue_dir is None else "GLUE data"):
        data = _classifier_data(settings, run, log)
    with stage("fine-tuning"):
        twins = _finetune(settings, run, data, spm_model, pretraining["config"], log)
    with stage("evaluation"):
        evaluation = _evaluate(settings, run, data, twins, log)
    with stage("export"):
        exported = _export(settings, run, twins, log)
    with stage("on-device check"):
        on_device = _on_device(settings, run, data, twins, exported, log)

    from albert_tf.demo.report import write_report
    from albert_tf.training.plots import plot_training_curves

    plot_training_curves(str(run / "pretrain" / "metrics.csv"), str(run / PLOT_FILE), settings.steps_per_checkpoint,
                         title="albert_tiny pretraining on the demo corpus")
    report = write_report(run / REPORT_FILE, settings, split, records, pretraining, data, twins, evaluation,
                          exported, on_device, timings.seconds)
    _write_state(run, settings, finished=True)
    preset = exported["preset"]
    log(f"\nreport: {report}\nplot:   {run / PLOT_FILE}\n\nTry the classifier:\n"
        f"  albert predict {preset} \"a gorgeous, witty, seductive movie.\" \"the plot is a mess and the jokes "
        f"fall flat.\"\n"
        f"Put it on an Android phone (android_demo/README.md):\n"
        f"  cd android_demo && ./gradlew installDebug -Palbert.classifierBundle={exported['bundle_for_android']}")
    return report


class _Timings:
    """Seconds per stage, added up over the launches of one run (kept in `timings.json`)."""

    def __init__(self, path: pathlib.Path):
        self.path = path
        self.seconds: dict[str, float] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    def measure(self, name: str):
        timings = self

        class _Stage:
            def __enter__(self):
                self.start = time.perf_counter()

            def __exit__(self, *exc_info):
                timings.seconds[name] = timings.seconds.get(name, 0.0) + time.perf_counter() - self.start
                atomic_write_text(timings.path, json.dumps(timings.seconds, indent=2) + "\n")

        return _Stage()


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
        strategy="one_device", seed=settings.seed, progress=settings.progress, dtype=settings.pretraining_dtype,
    ))
    rows = _metrics_rows(run / "pretrain" / "metrics.csv")
    first, last = rows[0], rows[-1]
    log(f"pretrained {result.final_step} steps: MLM accuracy {float(first['mlm_accuracy']):.1%} -> "
        f"{float(last['mlm_accuracy']):.1%}, SOP accuracy {float(first['sop_accuracy']):.1%} -> "
        f"{float(last['sop_accuracy']):.1%} (held out: MLM {float(last['val_mlm_accuracy']):.1%}, "
        f"SOP {float(last['val_sop_accuracy']):.1%})")
    return {"config": config, "first": first, "last": last, "rows": rows, "final_step": result.final_step,
            "resumed_from_step": result.resumed_from_step, "dtype": settings.pretraining_dtype}


def _metrics_rows(path: pathlib.Path) -> list[dict[str, str]]:
    import csv

    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))



@dataclasses.dataclass(frozen=True)
class ClassifierData:
    """What the classifiers train and are tested on.

    Attributes:
        data_dir: the fine-tuning runner's folder (`train`/`dev` files).
        task: the runner's task (`tsv`, or the GLUE task).
        test: (texts_a, texts_b or None, labels) reported once, at the end.
        test_name: what `test` is.
        out_of_domain: name -> (texts, labels).
        train_labels: the training labels (for the majority class).
        counts: rows per file.
    """

    data_dir: str
    task: str
    test: tuple[list[str], list[str] | None, list[str]]
    test_name: str
    out_of_domain: dict[str, tuple[list[str], list[str]]]
    train_labels: list[str]
    counts: dict[str, int]

    @property
    def sentiment(self) -> bool:
        return self.task == "tsv"


def _classifier_data(settings: DemoSettings, run: pathlib.Path, log) -> ClassifierData:
    if settings.glue_dir is not None:
        return _glue_data(settings, log)
    from albert_tf.demo.sentiment_data import ground_truth_dir, read_split_file, write_split

    source = settings.sentiment_dir or str(ground_truth_dir(os.path.join(settings.cache_dir, "vaderSentiment-3.3.2"),
                                                            progress=settings.progress))
    log(f"sentiment sentences: {source}")
    split = write_split(source, run / "sentiment", settings.finetune_examples)
    log(", ".join(f"{name} {count:,}" for name, count in split.counts.items()) + " sentences")
    test_texts, test_labels = read_split_file(split.data_dir / "test.tsv")
    return ClassifierData(
        data_dir=str(split.data_dir), task="tsv", test=(test_texts, None, test_labels),
        test_name="movie-review test split",
        out_of_domain={name: read_split_file(path) for name, path in split.out_of_domain.items()},
        train_labels=read_split_file(split.data_dir / "train.tsv")[1], counts=split.counts)


def _glue_data(settings: DemoSettings, log) -> ClassifierData:
    from albert_tf.finetuning.glue import GLUE_TASKS

    if settings.glue_task not in GLUE_TASKS:
        raise ValueError(f"--glue-task {settings.glue_task!r} is not one of {sorted(GLUE_TASKS)}")
    task = GLUE_TASKS[settings.glue_task]
    if task.label_list is None:
        raise ValueError(f"{settings.glue_task} is a regression task; the demo trains classifiers "
                         "(e.g. --glue-task sst2).")
    train = task.read(settings.glue_dir, task.train_file, labelled=True)
    dev = task.read(settings.glue_dir, task.splits[0].dev_file, labelled=True)
    pair = any(example.text_b is not None for example in dev)
    log(f"GLUE {settings.glue_task}: {len(train):,} training, {len(dev):,} dev examples (the dev set is the test)")
    names = task.model_labels  # what the fine-tuned model calls the classes

    def name(label) -> str:
        return names[label if isinstance(label, int) else task.label_list.index(label)]

    return ClassifierData(
        data_dir=settings.glue_dir, task=settings.glue_task,
        test=([e.text_a for e in dev], [e.text_b for e in dev] if pair else None, [name(e.label) for e in dev]),
        test_name=f"GLUE {settings.glue_task} dev set (also used to choose the learning rate)",
        out_of_domain={}, train_labels=[name(e.label) for e in train],
        counts={"train": len(train), "dev": len(dev)})


def _finetune(settings: DemoSettings, run: pathlib.Path, data: ClassifierData, spm_model: str, config,
              log) -> dict[str, dict[str, Any]]:
    from albert_tf.demo.sentiment_data import LABELS
    from albert_tf.demo.twins import TwinSettings, finetune_twins

    return finetune_twins(TwinSettings(
        data_dir=data.data_dir, task=data.task, pretrained_preset=str(run / "pretrain" / "model"),
        spm_model=spm_model, config=config, learning_rates=settings.finetune_learning_rates,
        epochs=settings.finetune_epochs, batch_size=settings.finetune_batch_size,
        seq_length=settings.export_seq_length, seed=settings.seed, dtype=settings.finetune_dtype,
        labels=LABELS if data.sentiment else None,
        max_train_examples=None if data.sentiment else settings.finetune_examples, progress=settings.progress,
    ), run / "finetune", log)


def _evaluate(settings: DemoSettings, run: pathlib.Path, data: ClassifierData, twins: dict, log) -> dict[str, Any]:
    """Accuracy of each model on the test split and the out-of-domain sets: {model: {set: accuracy}}."""
    path = run / EVALUATION_FILE
    if path.exists():
        evaluation = json.loads(path.read_text(encoding="utf-8"))
    else:
        from albert_tf.demo.baselines import accuracy, majority_label, vader_labels
        from albert_tf.demo.twins import predict_labels

        sets = {"test": (data.test[0], data.test[1], data.test[2])}
        sets.update({name: (texts, None, labels) for name, (texts, labels) in data.out_of_domain.items()})
        majority = majority_label(data.train_labels)
        evaluation = {"majority": majority, "accuracy": {}}
        for twin, chosen in twins.items():
            evaluation["accuracy"][twin] = {
                name: accuracy(predict_labels(chosen["preset"], texts, texts_b, progress=settings.progress), labels)
                for name, (texts, texts_b, labels) in sets.items()}
        evaluation["accuracy"]["majority class"] = {
            name: accuracy([majority] * len(labels), labels) for name, (_, _, labels) in sets.items()}
        if data.sentiment:
            evaluation["accuracy"]["VADER (compound > 0)"] = {
                name: accuracy(vader_labels(texts, settings.progress), labels)
                for name, (texts, _, labels) in sets.items()}
        evaluation["sizes"] = {name: len(labels) for name, (_, _, labels) in sets.items()}
        atomic_write_text(path, json.dumps(evaluation, indent=2) + "\n")
    for model, scores in evaluation["accuracy"].items():
        log(f"{model:>22}: " + ", ".join(f"{name} {value:.1%}" for name, value in scores.items()))
    return evaluation


def _export(settings: DemoSettings, run: pathlib.Path, twins: dict, log) -> dict[str, Any]:
    from albert_tf.export.publishing import BUNDLE_DIR, SAVED_MODEL_DIR, ExportRequest, export_model

    output = run / "export"
    bundle = output / BUNDLE_DIR
    preset = output / "preset"
    if not preset.exists():  # the chosen run's best checkpoint, under a name that does not change
        staging = output / ".preset-partial"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(twins["pretrained"]["preset"], staging)
        os.replace(staging, preset)
    if not (bundle / "manifest.json").exists() or not list((output / SAVED_MODEL_DIR).glob("*/saved_model.pb")):
        export_model(ExportRequest(model_path=preset, output_dir=output, seq_length=settings.export_seq_length,
                                   overwrite=True))
    versions = sorted((output / SAVED_MODEL_DIR).glob("*/saved_model.pb"), key=lambda p: int(p.parent.name))
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    sizes = {path.name: path.stat().st_size for path in sorted(bundle.glob("*.tflite"))}
    log(f"preset:     {preset}\nSavedModel: {versions[-1].parent}\nbundle:     {bundle} "
        f"(labels {manifest.get('labels')})")
    return {"preset": str(preset), "saved_model": str(versions[-1].parent), "bundle": str(bundle),
            "bundle_for_android": os.path.relpath(bundle.resolve(), (pathlib.Path.cwd() / "android_demo").resolve())
            if not os.path.isabs(settings.output_dir) else str(bundle),
            "labels": manifest.get("labels"), "sizes": sizes}


def _on_device(settings: DemoSettings, run: pathlib.Path, data: ClassifierData, twins: dict, exported: dict,
               log) -> dict[str, Any]:
    path = run / ON_DEVICE_FILE
    if path.exists():
        result = json.loads(path.read_text(encoding="utf-8"))
    else:
        from albert_tf.demo.on_device import compare_runtimes

        texts, texts_b, labels = data.test
        result = compare_runtimes(exported["preset"], exported["bundle"], texts, labels, texts_b,
                                  progress=settings.progress)
        atomic_write_text(path, json.dumps(result, indent=2) + "\n")
    log(f"on {result['n']:,} test sentences: " + ", ".join(f"{name} {value:.1%}"
                                                           for name, value in result["accuracy"].items()))
    log("agreement: " + ", ".join(f"{name} {value:.1%}" for name, value in result["agreement"].items()))
    return result
