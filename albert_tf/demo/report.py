"""The demo's `report.md`: the numbers of one run, in one page."""

from __future__ import annotations

import pathlib
from albert_tf.io_utils import atomic_write_text


def _percent(value: str | float) -> str:
    return f"{float(value):.1%}"


def write_report(path: pathlib.Path, settings, split, records: dict, pretraining: dict, task: dict,
                 exported: dict, timings: dict[str, float]) -> pathlib.Path:
    """Writes the report atomically and returns its path."""
    first, last = pretraining["first"], pretraining["last"]
    config = pretraining["config"]
    lines = [
        "# albert_tf demo run",
        "",
        "## Data",
        f"- corpus: {split.train_documents} training documents ({split.train_sentences:,} sentences), "
        f"{split.heldout_documents} held-out documents ({split.heldout_sentences:,} sentences)",
        f"- SentencePiece vocabulary: {settings.vocab_size:,} pieces, trained on the training documents",
        f"- records: {records['counts']['train']:,} training / {records['counts']['heldout']:,} held-out sequences "
        f"of {settings.seq_length} tokens (n-gram masking, sentence-order pairs)",
        "",
        "## Pretraining (albert_tiny: "
        f"E={config.embedding_size}, H={config.hidden_size}, L={config.num_hidden_layers}, one shared layer)",
        f"- {pretraining['final_step']:,} steps of batch {settings.batch_size}, LAMB, peak learning rate "
        f"{settings.learning_rate}",
        "",
        "| metric | first checkpoint | last checkpoint | held out (last) |",
        "|---|---|---|---|",
        f"| MLM loss | {float(first['mlm_loss']):.3f} | {float(last['mlm_loss']):.3f} | {float(last['val_mlm_loss']):.3f} |",
        f"| MLM accuracy | {_percent(first['mlm_accuracy'])} | {_percent(last['mlm_accuracy'])} | "
        f"{_percent(last['val_mlm_accuracy'])} |",
        f"| SOP accuracy | {_percent(first['sop_accuracy'])} | {_percent(last['sop_accuracy'])} | "
        f"{_percent(last['val_sop_accuracy'])} |",
        "",
        "![training curves](training_curves.png)",
        "",
    ]
    if task["kind"] == "finetune":
        metrics = task["results"].get("metrics", {})
        lines += ["## Fine-tuning", f"- task {settings.glue_task}, {settings.finetune_examples:,} training rows, "
                  f"{settings.finetune_epochs} epochs, from the pretrained backbone", ""]
        lines += [f"- {split_name}: " + ", ".join(f"{name} {value:.4f}" for name, value in values.items())
                  for split_name, values in metrics.items()]
        lines.append("")
    else:
        lines += ["## Fill-mask (held-out sentences)", "",
                  f"Top-1 accuracy on one masked word (the one-piece word nearest the middle) in each of "
                  f"{task['scored']} held-out sentences: "
                  f"{task['hit_rate']:.1%}. The first five:", "",
                  "| sentence | answer | model's top 3 |", "|---|---|---|"]
        for example in task["examples"]:
            guesses = ", ".join(f"{piece} ({probability:.1%})" for piece, probability in example.predictions)
            lines.append(f"| {example.masked_text[:100]} | {example.answer} | {guesses} |")
        lines.append("")
    lines += [
        "## Export",
        f"- SavedModel (TF Serving layout): `{exported['saved_model']}`",
        f"- edge bundle: `{exported['bundle']}` ("
        + ", ".join(f"{name} {size / 1e6:.2f} MB" for name, size in sorted(exported["sizes"].items())) + ")",
        f"- largest probability difference, Keras fp32 vs TFLite dynamic int8, on the inputs below: "
        f"{exported['max_probability_difference']:.4f}",
        "",
        "| input | true label | Keras fp32 | TFLite dynamic int8 |",
        "|---|---|---|---|",
    ]
    for row in exported["side_by_side"]:
        lines.append(f"| {row['text'][:100]} | {row['expected']} | {row['keras']} ({row['keras_probability']:.3f}) | "
                     f"{row['tflite']} ({row['tflite_probability']:.3f}) |")
    lines += ["", "## Time", ""] + [f"- {name}: {seconds:.0f} s" for name, seconds in timings.items()]
    lines.append(f"- total: {sum(timings.values()):.0f} s")
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path
