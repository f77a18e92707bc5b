"""Training curves as a PNG, from the `metrics.csv` that training writes."""

from __future__ import annotations

import csv
import os

from albert_tf.io_utils import atomic_write_bytes


def plot_training_curves(metrics_csv: str, output_png: str, steps_per_row: int,
                         title: str = "ALBERT pretraining") -> str:
    """Plots loss (left) and MLM / SOP accuracy (right) against the step,
    with the held-out curves (dashed) when the run evaluated `--eval-records`.

    Args:
        metrics_csv: a Keras `CSVLogger` file (one row per checkpoint interval).
        output_png: where the figure goes (written atomically).
        steps_per_row: optimizer steps per row (`--steps-per-checkpoint`).
        title: the figure title.

    Returns:
        `output_png`.
    """

    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt

    try:
        with open(metrics_csv, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except FileNotFoundError:
        raise ValueError(f"No metrics file at {metrics_csv}; is it a training output folder?") from None
    if not rows:
        raise ValueError(f"{metrics_csv} has no rows yet: nothing to plot.")
    steps = [(int(row["epoch"]) + 1) * steps_per_row for row in rows]

    def column(name):
        return [float(row[name]) for row in rows]

    def held_out(name):
        values = [row.get(f"val_{name}", "NA") for row in rows]
        return None if any(value in ("", "NA", None) for value in values) else [float(v) for v in values]

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for axis, names in ((left, ("mlm_loss", "sop_loss")), (right, ("mlm_accuracy", "sop_accuracy"))):
        for name in names:
            label = name.replace("mlm_", "MLM ").replace("sop_", "SOP ")
            (line,) = axis.plot(steps, column(name), label=f"{label} (train)")
            values = held_out(name)
            if values is not None:
                axis.plot(steps, values, linestyle="--", color=line.get_color(), label=f"{label} (held out)")
    left.set_xlabel("step")
    left.set_ylabel("cross-entropy")
    left.legend(fontsize="small")
    left.grid(alpha=0.3)
    right.axhline(0.5, color="grey", linestyle=":", linewidth=1, label="SOP chance")
    right.set_xlabel("step")
    right.set_ylabel("accuracy")
    right.set_ylim(0, 1)
    right.legend(fontsize="small")
    right.grid(alpha=0.3)
    return _save_figure(figure, title, output_png)


def plot_metric_curves(metrics_csv: str, output_png: str, left: list[str], right: list[str],
                       title: str = "ALBERT fine-tuning") -> str:
    """Plots the `left` columns (training losses) and the `right` columns (dev metrics)
    of a `metrics.csv` with a `step` column (fine-tuning, distillation) against the step.

    Returns:
        `output_png` (written atomically).
    """

    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt

    with open(metrics_csv, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for axis, names, label in ((axes[0], left, "training loss"), (axes[1], right, "dev metric")):
        for name in names:
            points = [(int(row["step"]), float(row[name])) for row in rows if row.get(name) not in ("", None)]
            if points:
                axis.plot(*zip(*points), marker="o", markersize=3, label=name)
        axis.set_xlabel("step")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
        if names:
            axis.legend(fontsize="small")
    return _save_figure(figure, title, output_png)


def _save_figure(figure, title: str, output_png: str) -> str:
    """Titles `figure`, writes it as a PNG atomically and closes it; returns the path."""
    import io

    import matplotlib.pyplot as plt

    figure.suptitle(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    atomic_write_bytes(output_png, buffer.getvalue())
    return os.fspath(output_png)
