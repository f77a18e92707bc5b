"""The demo's `report.md`: the numbers of one run, in one page."""

from __future__ import annotations

import pathlib
from typing import Any

from albert_tf.io_utils import atomic_write_text

OUT_OF_DOMAIN_TITLES = {"tweets": "tweets", "amazonReviewSnippets": "Amazon reviews",
                        "nytEditorialSnippets": "NYT editorials"}


def _percent(value: str | float) -> str:
    return f"{float(value):.1%}"


def write_report(path: pathlib.Path, settings, split, records: dict, pretraining: dict, data, twins: dict,
                 evaluation: dict, exported: dict, on_device: dict, timings: dict[str, float]) -> pathlib.Path:
    """Writes the report atomically and returns its path."""
    first, last = pretraining["first"], pretraining["last"]
    config = pretraining["config"]
    lines = [
        "# albert_tf demo run",
        "",
        "## Pretraining data",
        f"- corpus: {split.train_documents} training documents ({split.train_sentences:,} sentences), "
        f"{split.heldout_documents} held-out documents ({split.heldout_sentences:,} sentences)",
        f"- SentencePiece vocabulary: {settings.vocab_size:,} pieces, trained on the training documents",
        f"- records: {records['counts']['train']:,} training / {records['counts']['heldout']:,} held-out sequences "
        f"of {settings.seq_length} tokens (n-gram masking, sentence-order pairs)",
        "",
        "## Pretraining (albert_tiny: "
        f"E={config.embedding_size}, H={config.hidden_size}, L={config.num_hidden_layers}, one shared layer)",
        f"- {pretraining['final_step']:,} steps of batch {settings.batch_size}, LAMB, peak learning rate "
        f"{settings.learning_rate}, {pretraining['dtype']}, seed {settings.seed}",
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
    lines += _classifier_section(settings, data, twins, evaluation)
    lines += _export_section(exported, on_device)
    lines += ["## Time (seconds per stage, summed over the launches of this run)", "",
              "| stage | seconds |", "|---|---:|"]
    lines += [f"| {name} | {seconds:.0f} |" for name, seconds in timings.items()]
    lines += [f"| total | {sum(timings.values()):.0f} |", ""]
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def _classifier_section(settings, data, twins: dict, evaluation: dict) -> list[str]:
    sizes = evaluation["sizes"]
    if data.sentiment:
        lines = ["## Sentiment classifier", "",
                 f"Movie-review sentences rated by humans (VADER paper data, `vaderSentiment==3.3.2` sdist): "
                 f"{data.counts['train']:,} train / {data.counts['dev']:,} dev / {data.counts['test']:,} test, "
                 "a fixed seeded split; valence > 0 is positive, < 0 negative. Both classifiers have the same "
                 f"shape, vocabulary, data order (seed {settings.seed}) and budget ({settings.finetune_epochs} "
                 f"epochs of batch {settings.finetune_batch_size}, {settings.export_seq_length} tokens, "
                 f"{settings.finetune_dtype}); each "
                 "learning rate of the grid is tried and the one with the best dev accuracy kept. The test split "
                 "is scored once, after that choice.", ""]
    else:
        lines = [f"## Classifier ({data.test_name})", "",
                 f"{data.counts['train']:,} training examples; both classifiers with the same shape, vocabulary, "
                 f"seed and budget; the learning rate with the best dev score kept.", ""]
    lines += ["| classifier | " + " | ".join(f"lr {row['learning_rate']:g} (dev)" for row in twins["pretrained"]["grid"])
              + " | chosen |", "|---|" + "---:|" * (len(twins["pretrained"]["grid"]) + 1)]
    for twin, chosen in twins.items():
        lines.append(f"| {twin.replace('_', ' ')} | " + " | ".join(f"{row['dev']:.4f}" for row in chosen["grid"])
                     + f" | {chosen['learning_rate']:g} |")
    names = list(sizes)
    titles = [("test" if name == "test" else OUT_OF_DOMAIN_TITLES.get(name, name)) + f" ({sizes[name]:,})"
              for name in names]
    lines += ["", "Accuracy (in-domain test, then out-of-domain):", "",
              "| model | " + " | ".join(titles) + " |", "|---|" + "---:|" * len(names)]
    for model, scores in evaluation["accuracy"].items():
        label = f"majority class ({evaluation['majority']})" if model == "majority class" else model.replace("_", " ")
        lines.append(f"| {label} | " + " | ".join(_percent(scores[name]) for name in names) + " |")
    pretrained, scratch = evaluation["accuracy"]["pretrained"], evaluation["accuracy"]["from_scratch"]
    lines += ["", "Pretrained minus from scratch: " + ", ".join(
        f"{OUT_OF_DOMAIN_TITLES.get(name, name)} {100 * (pretrained[name] - scratch[name]):+.1f} points"
        for name in names) + ".", ""]
    return lines


def _export_section(exported: dict[str, Any], on_device: dict[str, Any]) -> list[str]:
    lines = [
        "## Export (the pretrained classifier)",
        f"- preset: `{exported['preset']}`",
        f"- SavedModel (TF Serving layout): `{exported['saved_model']}`",
        f"- edge bundle: `{exported['bundle']}` (labels {', '.join(exported['labels'] or [])}; "
        + ", ".join(f"{name} {size / 1e6:.2f} MB" for name, size in exported["sizes"].items()) + ")",
        "",
        f"On the {on_device['n']:,} test sentences (Keras and TFLite get the same token ids; MediaPipe's "
        "TextClassifier reads the .tflite file alone and tokenizes as the Android app does):",
        "",
        "| runtime | accuracy |", "|---|---:|",
    ]
    lines += [f"| {name} | {_percent(value)} |" for name, value in on_device["accuracy"].items()]
    lines += ["", "| pair | same label | largest probability difference |", "|---|---:|---:|"]
    lines += [f"| {name} | {_percent(value)} | {on_device['max_probability_difference'][name]:.4f} |"
              for name, value in on_device["agreement"].items()]
    lines.append("")
    return lines
