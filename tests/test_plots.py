"""Training-curve plots."""

from __future__ import annotations

import pytest

from albert_tf.training.plots import plot_training_curves

HEADER = "epoch,loss,mlm_accuracy,mlm_loss,mlm_perplexity,sop_accuracy,sop_loss\n"


def test_plot_writes_a_png(tmp_path):
    metrics = tmp_path / "metrics.csv"
    metrics.write_text(HEADER + "0,9.0,0.05,8.3,4000,0.5,0.69\n1,7.0,0.10,6.3,545,0.55,0.68\n")
    output = plot_training_curves(str(metrics), str(tmp_path / "plots" / "curves.png"), steps_per_row=100)
    data = (tmp_path / "plots" / "curves.png").read_bytes()
    assert output.endswith("curves.png") and data.startswith(b"\x89PNG") and len(data) > 10_000


def test_plot_errors_name_the_file(tmp_path):
    with pytest.raises(ValueError, match="No metrics file at .*missing.csv"):
        plot_training_curves(str(tmp_path / "missing.csv"), str(tmp_path / "x.png"), 10)
    empty = tmp_path / "empty.csv"
    empty.write_text(HEADER)
    with pytest.raises(ValueError, match="no rows"):
        plot_training_curves(str(empty), str(tmp_path / "x.png"), 10)
    assert not (tmp_path / "x.png").exists()
