"""`albert predict`: labels and probabilities, or answer spans, from a preset and raw text."""

from __future__ import annotations

import argparse

READ_BATCH = 256  # rows read and answered per step; `--batch-size` is the model's batch


def add_parser(subparsers) -> None:
    from albert_tf.cli.shared_arguments import HelpFormatter, positive_int

    parser = subparsers.add_parser(
        "predict",
        help="classify text or answer questions with a preset (labels, probabilities, spans)",
        description=(
            "Runs a preset from albert finetune, distill or convert on raw text and prints one JSON object per "
            "input (or writes them to --output as JSON Lines). Classifiers give the label, its probability and "
            "every class's probability; span QA gives the answer with its character offsets in the context "
            "(context[start:end] == answer). Inputs: TEXT arguments (for pair models, question and context, or "
            "text_a and text_b, alternate), or --input FILE with one row per line, fields separated by a tab "
            "(text | text_a<TAB>text_b | question<TAB>context | context<TAB>choice_1<TAB>...)."
        ),
        formatter_class=HelpFormatter,
    )
    parser.add_argument("preset", help="the preset folder (e.g. runs/sst2/model)")
    parser.add_argument("texts", nargs="*", metavar="TEXT", help="texts (pair models: A B A B ...)")
    parser.add_argument("--input", default=None, help="UTF-8 file, one row per line, fields tab-separated")
    parser.add_argument("--output", default=None, help="JSON Lines file to write (default: standard output)")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="inputs per model call")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar for --input; bars are drawn only when stderr is a terminal")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import json
    import logging
    import sys

    from tqdm.auto import tqdm

    from albert_tf.io_utils import atomic_write_text
    from albert_tf.prediction import batched, check_rows, fields_per_row, predict_rows
    from albert_tf.preset_format import read_preset
    from albert_tf.presets import load_preset

    if bool(args.texts) == bool(args.input):
        raise ValueError("Give the texts either as TEXT arguments or with --input FILE (one of the two).")
    spec = read_preset(args.preset)
    spec.require_tokenizer("albert predict reads raw text; re-save the preset with its SentencePiece model")
    model = load_preset(args.preset)
    width = fields_per_row(model)
    if args.input:
        rows, where = _read_rows(args.input), f"--input {args.input}"
    else:
        if len(args.texts) % width:
            raise ValueError(f"This model takes {width} strings per input, but {len(args.texts)} TEXT arguments "
                             f"were given; pass them as groups of {width}.")
        rows = [tuple(args.texts[index:index + width]) for index in range(0, len(args.texts), width)]
        where = "TEXT"
    check_rows(model, rows, where)
    # Truncated rows are counted from the tokenization that feeds the model (no second pass over the text).
    length = model.preprocessor.sequence_length
    lines, truncated = [], 0
    progress = tqdm(total=len(rows), unit="row", disable=args.no_progress or len(rows) < READ_BATCH,
                    desc="predict", file=sys.stderr)
    for batch in batched(rows, READ_BATCH):
        answers, token_counts = predict_rows(model, batch, args.batch_size, return_token_counts=True)
        truncated += sum(1 for count in token_counts if count is not None and count > length)
        for row, answer in zip(batch, answers):
            lines.append(json.dumps({"input": list(row), **answer}, ensure_ascii=False))
        progress.update(len(batch))
    progress.close()
    if truncated:
        logging.getLogger("albert_tf.cli").warning(
            "%d of %d inputs are longer than the model's %d tokens and were truncated to %d tokens",
            truncated, len(rows), length, length)
    if args.output:
        atomic_write_text(args.output, "\n".join(lines) + "\n")
        print(f"{len(lines)} predictions written to {args.output}", file=sys.stderr)
    else:
        for line in lines:
            print(line)
    return 0


def _read_rows(path: str) -> list[tuple[str, ...]]:
    import pathlib

    file = pathlib.Path(path)
    if file.is_dir():
        raise ValueError(f"--input {file} is a folder; name a text file (one row per line).")
    if not file.is_file():
        raise ValueError(f"--input {file} not found.")
    rows = []
    with open(file, "rb") as stream:
        for number, raw in enumerate(stream, start=1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as error:
                raise ValueError(f"--input {file} line {number} is not UTF-8 ({error.reason} at byte "
                                 f"{error.start}); convert the file to UTF-8.") from None
            if line.strip():
                rows.append(tuple(line.split("\t")))
    if not rows:
        raise ValueError(f"--input {file} holds no text.")
    return rows

