"""The demo's two classifiers: the pretrained encoder fine-tuned, and a from-scratch twin.

Both have the same shape and vocabulary, see the same data in the same order
(same seed), for the same number of steps, and each gets the same small
learning-rate grid; the learning rate is chosen on dev accuracy only (the
fine-tuning runner already keeps the best dev epoch as `model/`). The test
split is read after the choice, once.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
from typing import Any, Sequence

logger = logging.getLogger(__name__)

PRETRAINED, FROM_SCRATCH = "pretrained", "from_scratch"


@dataclasses.dataclass(frozen=True)
class TwinSettings:
    """How both twins are fine-tuned.

    Args:
        data_dir: the task folder (`train`/`dev` tsv files, or a GLUE folder).
        task: the fine-tuning runner's task (`tsv`, or a GLUE task name).
        pretrained_preset: the pretrainer preset the first twin starts from.
        spm_model: the vocabulary (the scratch twin's tokenizer).
        config: the encoder shape of the scratch twin (the pretrained one's).
        learning_rates: the grid each twin is tried with.
        epochs: passes over the training set.
        batch_size: training batch.
        seq_length: tokens per sentence.
        seed: initialization and data-order seed, the same for both twins.
        dtype: the dtype policy both twins train in.
        labels: the class names (tsv task).
        max_train_examples: use only the first N training rows.
        progress: Keras progress bars.
        twins: which of the two to fine-tune (both by default).
    """

    data_dir: str
    task: str
    pretrained_preset: str
    spm_model: str
    config: Any
    learning_rates: Sequence[float]
    epochs: int
    batch_size: int
    seq_length: int
    seed: int
    dtype: str = "float32"
    labels: Sequence[str] | None = None
    max_train_examples: int | None = None
    progress: bool = True
    twins: tuple[str, ...] = (PRETRAINED, FROM_SCRATCH)


def run_folder(root: str | os.PathLike, twin: str, learning_rate: float) -> pathlib.Path:
    """Where one twin's run with one learning rate lives."""
    return pathlib.Path(root) / twin / f"lr-{learning_rate:g}"


def finetune_twins(settings: TwinSettings, root: str | os.PathLike, log=logger.info) -> dict[str, dict[str, Any]]:
    """Fine-tunes both twins over the grid (each run resumes after a kill, a finished one is read back)
    and returns, per twin, `{"preset", "learning_rate", "dev", "metric", "grid"}` of its dev-best run."""
    from albert_tf.finetuning.runner import FinetuneSettings, run_finetuning

    chosen = {}
    for twin in settings.twins:
        grid = []
        for learning_rate in settings.learning_rates:
            output = run_folder(root, twin, learning_rate)
            pretrained = twin == PRETRAINED
            csv_columns = {"text_column": "sentence", "label_column": "label",
                           "labels": tuple(settings.labels) if settings.labels else None} \
                if settings.task in ("tsv", "csv") else {}
            result = run_finetuning(FinetuneSettings(
                task=settings.task, data_dir=settings.data_dir, output_dir=str(output),
                init_checkpoint=settings.pretrained_preset if pretrained else None,
                config=None if pretrained else settings.config,
                spm_model=None if pretrained else settings.spm_model,
                epochs=settings.epochs, learning_rate=learning_rate, batch_size=settings.batch_size,
                max_seq_length=settings.seq_length, max_train_examples=settings.max_train_examples,
                seed=settings.seed, dtype=settings.dtype, strategy="one_device", progress=settings.progress,
                **csv_columns,
            ))
            best = result.results["best"]
            grid.append({"learning_rate": learning_rate, "dev": best["value"], "metric": best["metric"],
                         "step": best["step"], "preset": str(output / "model")})
            log(f"{twin}, learning rate {learning_rate:g}: {best['metric']} {best['value']:.4f} "
                f"(step {best['step']})")
        winner = max(grid, key=lambda row: row["dev"])  # the first of equal ones
        chosen[twin] = {**winner, "grid": grid}
        log(f"{twin}: learning rate {winner['learning_rate']:g} chosen on dev")
    return chosen


def predict_labels(preset: str | os.PathLike, texts: Sequence[str], texts_b: Sequence[str] | None = None,
                   batch_size: int = 128, progress: bool = True) -> list[str]:
    """The label names a classifier preset gives `texts` (or text pairs); Keras' progress bar when `progress`."""
    import numpy as np

    from albert_tf.presets import load_preset

    model = load_preset(preset)
    inputs = list(texts) if texts_b is None else (list(texts), list(texts_b))
    logits = np.asarray(model.predict(inputs, batch_size=batch_size, verbose=1 if progress else 0))
    return [model.label_names[index] for index in logits.argmax(axis=-1)]
