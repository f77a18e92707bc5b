"""SQuAD v1.1 / v2.0: reading, SentencePiece features with doc-stride windows, answer post-processing.

Feature creation and post-processing are tf-models-official's `squad_lib_sp`
(the ALBERT code: SentencePiece pieces aligned to the original characters by
an LCS, windows of `max_seq_length` with `doc_stride`, v2 "no answer" at
[CLS]). It tokenizes with its own copy of ALBERT's preprocessing, which lacks
the ``/'' -> '"' step of the original and of `AlbertTokenizer`; `_SpModel`
adds that step so the ids equal `AlbertTokenizer.encode` (a test checks it).
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
from typing import Any, Sequence

import numpy as np
import sentencepiece as spm
from tqdm.auto import tqdm

from albert_tf.tokenizer import AlbertTokenizer

# One model output per feature, as squad_lib_sp.postprocess_output reads it.
RawResult = collections.namedtuple("RawResult", ["unique_id", "start_logits", "end_logits"])


@dataclasses.dataclass
class SquadData:
    """The examples of one SQuAD file, and what was left out.

    Args:
        dataset: the file's `data` list (for the official evaluation).
        examples: `squad_lib_sp.SquadExample`s.
        skipped: `question id: reason` of questions not used.
    """

    dataset: list[dict[str, Any]]
    examples: list[Any]
    skipped: list[str]


@dataclasses.dataclass
class SquadFeatures:
    """Model inputs for a list of examples, plus what post-processing needs.

    Args:
        inputs: int32 `[F, max_seq_length]` arrays named as the backbone's inputs.
        start_positions: int32 `[F]` gold starts (training; 0 = [CLS] when the
            window has no answer).
        end_positions: int32 `[F]` gold ends.
        features: the `squad_lib_sp.InputFeatures` (token-to-character maps).
        unaligned: question ids whose context SentencePiece could not be
            aligned to the text (squad_lib_sp drops those; no features).
    """

    inputs: dict[str, np.ndarray]
    start_positions: np.ndarray
    end_positions: np.ndarray
    features: list[Any]
    unaligned: list[str]


def read_squad(path: str, is_training: bool, version_2: bool) -> SquadData:
    """Reads a SQuAD json file.

    For training each answerable question takes its first answer, which must
    sit at `answer_start` in the context; a question whose answer does not is
    skipped and reported in `skipped` (its labels would be wrong). v2
    questions with `is_impossible` get the null answer.

    Raises:
        ValueError: when the file is missing or not SQuAD json.
    """
    from official.nlp.data.squad_lib_sp import SquadExample

    if not os.path.isfile(path):
        raise ValueError(f"SQuAD file not found: {path}")
    try:
        with open(path, encoding="utf-8") as handle:
            dataset = json.load(handle)["data"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(f"{path} is not a SQuAD json file (an object with a `data` list): {error}") from None
    examples, skipped = [], []
    for article_number, article in enumerate(dataset):
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            for qa in paragraph["qas"]:
                impossible = bool(version_2 and qa.get("is_impossible", False))
                text, start = None, None
                if is_training:
                    if impossible:
                        text, start = "", -1
                    elif not qa.get("answers"):
                        skipped.append(f"{qa['id']}: no answer (and not is_impossible)")
                        continue
                    else:
                        answer = qa["answers"][0]
                        text, start = answer["text"], int(answer["answer_start"])
                        if not text or context[start:start + len(text)] != text:
                            found = context[start:start + len(text)]
                            skipped.append(
                                f"{qa['id']} (article {article_number + 1} {article.get('title', '')!r}): "
                                f"answer_start {start} points at {found!r}, not the answer {text!r}; "
                                "fix answer_start to the answer's character offset in the context"
                            )
                            continue
                examples.append(SquadExample(qas_id=qa["id"], question_text=qa["question"], paragraph_text=context,
                                             orig_answer_text=text, start_position=start, is_impossible=impossible))
    return SquadData(dataset, examples, skipped)


def create_squad_features(
    examples: Sequence[Any],
    tokenizer: AlbertTokenizer,
    max_seq_length: int = 384,
    doc_stride: int = 128,
    max_query_length: int = 64,
    is_training: bool = False,
    description: str = "features",
    progress: bool = True,
) -> SquadFeatures:
    """Windows of `[CLS] question [SEP] context-window [SEP]` for every example.

    Each feature's `example_index` is its example's position in `examples`
    and `unique_id` its own position, both in training and evaluation.
    """
    from official.nlp.data import squad_lib_sp

    if not tokenizer.strip_accents:
        raise ValueError("SQuAD features follow ALBERT's preprocessing, which strips accents; use a tokenizer "
                         "with strip_accents=True.")
    if max_seq_length < max_query_length + 4:
        raise ValueError(f"--max-seq-length {max_seq_length} leaves no room for the context after a question of "
                         f"--max-query-length {max_query_length}; raise it above {max_query_length + 4}.")
    shim = _TokenizerShim(tokenizer)
    features, unaligned = [], []
    bar = tqdm(examples, desc=description, unit="q", leave=False, disable=not progress)
    for example_index, example in enumerate(bar):
        produced: list[Any] = []
        # One call per example: the library numbers features per call and, in
        # training mode, does not record their example.
        squad_lib_sp.convert_examples_to_features(
            [example], shim, max_seq_length, doc_stride, max_query_length, is_training,
            output_fn=lambda feature, is_padding=False: None if is_padding else produced.append(feature),
            do_lower_case=tokenizer.lower_case, batch_size=1,
        )
        if not produced:
            unaligned.append(example.qas_id)
        for feature in produced:
            feature.example_index = example_index
            feature.unique_id = len(features)
            features.append(feature)
    inputs = {
        "input_word_ids": np.asarray([f.input_ids for f in features], np.int32).reshape(-1, max_seq_length),
        "input_mask": np.asarray([f.input_mask for f in features], np.int32).reshape(-1, max_seq_length),
        "input_type_ids": np.asarray([f.segment_ids for f in features], np.int32).reshape(-1, max_seq_length),
    }
    starts = np.asarray([f.start_position or 0 for f in features], np.int32)
    ends = np.asarray([f.end_position or 0 for f in features], np.int32)
    return SquadFeatures(inputs, starts, ends, features, unaligned)


def postprocess(
    examples: Sequence[Any],
    features: SquadFeatures,
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    version_2: bool,
    n_best_size: int = 20,
    max_answer_length: int = 30,
    null_score_diff_threshold: float = 0.0,
) -> tuple[dict[str, str], dict[str, float]]:
    """Answer texts (question id -> text, "" for no answer in v2) and v2 null odds from per-feature logits.

    Spans are n-best start x end pairs inside the context, in a window where
    the start token has its maximal context, at most `max_answer_length`
    tokens; the text is cut from the original context by character offsets.
    """
    from official.nlp.data import squad_lib_sp

    results = [RawResult(index, start_logits[index].tolist(), end_logits[index].tolist())
               for index in range(len(features.features))]
    predictions, _, null_odds = squad_lib_sp.postprocess_output(
        list(examples), features.features, results, n_best_size, max_answer_length, do_lower_case=True,
        version_2_with_negative=version_2, null_score_diff_threshold=null_score_diff_threshold,
    )
    return dict(predictions), {key: float(value) for key, value in null_odds.items()}


class _SpModel:
    """The SentencePiece processor as squad_lib_sp calls it, with the ``/'' -> '"' step of ALBERT's preprocessing."""

    def __init__(self, processor: spm.SentencePieceProcessor):
        self._processor = processor

    def EncodeAsPieces(self, text: str) -> list[str]:  # noqa: N802 (the SentencePiece name squad_lib_sp calls)
        return self._processor.encode(text.replace("``", '"').replace("''", '"'), out_type=str)

    def __getattr__(self, name: str):
        return getattr(self._processor, name)


class _TokenizerShim:
    """What squad_lib_sp needs of a tokenizer: `sp_model`."""

    def __init__(self, tokenizer: AlbertTokenizer):
        self.sp_model = _SpModel(spm.SentencePieceProcessor(model_proto=tokenizer.serialized_model_proto))


def answer_spans(
    model: Any,
    tokenizer: AlbertTokenizer,
    questions: Sequence[str],
    contexts: Sequence[str],
    max_seq_length: int = 384,
    doc_stride: int = 128,
    max_query_length: int = 64,
    max_answer_length: int = 30,
    version_2: bool = False,
    null_score_diff_threshold: float = 0.0,
    batch_size: int = 32,
) -> list[dict[str, Any]]:
    """The best answer span of each question in its context, with character offsets.

    The windows are SQuAD evaluation's (`create_squad_features`); a span is
    scored by start + end logit, must start in a window where its first
    token has its maximal context, lie inside the context and be at most
    `max_answer_length` tokens. Offsets are the pieces' character positions
    in the original context, so `context[start:end] == answer`.
    """
    from official.nlp.data.squad_lib_sp import SquadExample

    examples = [SquadExample(qas_id=str(index), question_text=question, paragraph_text=context,
                             orig_answer_text=None, start_position=None, is_impossible=False)
                for index, (question, context) in enumerate(zip(questions, contexts))]
    features = create_squad_features(examples, tokenizer, max_seq_length, doc_stride, max_query_length,
                                     description="answer windows")
    if not features.features:
        return [_no_answer(None) for _ in examples]
    outputs = model.predict(features.inputs, batch_size=batch_size, verbose=0)
    starts, ends = np.asarray(outputs["start_logits"]), np.asarray(outputs["end_logits"])
    best: dict[int, dict[str, Any]] = {}
    null: dict[int, float] = {}
    for feature in features.features:
        start_logits, end_logits = starts[feature.unique_id], ends[feature.unique_id]
        index = feature.example_index
        null[index] = min(null.get(index, np.inf), float(start_logits[0] + end_logits[0]))
        ids = list(feature.input_ids)
        offset = ids.index(tokenizer.sep_id) + 1  # the context starts after the question's [SEP]
        length = len(feature.tok_start_to_orig_index)
        top_starts = np.argsort(start_logits)[::-1][:20]
        top_ends = np.argsort(end_logits)[::-1][:20]
        for start in top_starts:
            if not offset <= start < offset + length or not feature.token_is_max_context.get(int(start), False):
                continue
            for end in top_ends:
                if not start <= end < offset + length or end - start + 1 > max_answer_length:
                    continue
                score = float(start_logits[start] + end_logits[end])
                if index not in best or score > best[index]["score"]:
                    begin = feature.tok_start_to_orig_index[start - offset]
                    finish = feature.tok_end_to_orig_index[end - offset] + 1
                    best[index] = {"start": int(begin), "end": int(finish), "score": score}
    answers = []
    for index, example in enumerate(examples):
        found = best.get(index)
        if found is None or (version_2 and null.get(index, np.inf) - found["score"] > null_score_diff_threshold):
            answers.append(_no_answer(null.get(index)))
            continue
        context = example.paragraph_text
        start, end = found["start"], found["end"]
        # The pieces' spans may include the space before a word: trim it, keeping the offsets exact.
        while start < end and context[start].isspace():
            start += 1
        while end > start and context[end - 1].isspace():
            end -= 1
        answers.append({"answer": context[start:end], "start": start, "end": end, "score": found["score"]})
    return answers


def _no_answer(score: float | None) -> dict[str, Any]:
    return {"answer": "", "start": -1, "end": -1, "score": score}
