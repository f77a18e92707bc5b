"""Fill-mask examples from a pretrained `AlbertPretrainer`: what the MLM head learned."""

from __future__ import annotations

import dataclasses

import numpy as np

from albert_tf.tokenizer import AlbertTokenizer

_WORD_START = "\u2581"


@dataclasses.dataclass(frozen=True)
class FillMaskExample:
    """One sentence with one word masked and the model's top guesses for it."""

    masked_text: str
    answer: str
    predictions: tuple[tuple[str, float], ...]  # (piece, probability), best first

    @property
    def hit(self) -> bool:
        return bool(self.predictions) and self.predictions[0][0] == self.answer


def _maskable_position(tokenizer: AlbertTokenizer, ids: list[int]) -> int | None:
    """A whole word of one piece near the middle, so one [MASK] hides exactly
    it. Any word, frequent ones included, as in MLM training's masking."""
    candidates = []
    for index, token in enumerate(ids):
        piece = tokenizer.id_to_piece(token)
        next_starts_word = index + 1 == len(ids) or tokenizer.id_to_piece(ids[index + 1]).startswith(_WORD_START)
        word = piece.removeprefix(_WORD_START)
        if piece.startswith(_WORD_START) and next_starts_word and word.isalpha():
            candidates.append(index)
    if not candidates:
        return None
    middle = len(ids) / 2
    return min(candidates, key=lambda index: abs(index - middle))


def _readable(piece: str) -> str:
    # The bare word-start piece would print as nothing.
    return piece.removeprefix(_WORD_START) or _WORD_START


def fill_mask(pretrainer, tokenizer: AlbertTokenizer, sentences: list[str], seq_length: int,
              top_k: int = 3, max_examples: int = 5) -> list[FillMaskExample]:
    """Masks one word in each sentence (those with a maskable word, up to
    `max_examples`) and returns the pretrainer's `top_k` pieces for it."""
    examples = []
    for sentence in sentences:
        ids = tokenizer.encode(sentence)[: seq_length - 2]
        position = _maskable_position(tokenizer, ids)
        if position is None:
            continue
        answer = tokenizer.id_to_piece(ids[position]).removeprefix(_WORD_START)
        masked = list(ids)
        masked[position] = tokenizer.mask_id
        packed = tokenizer.pack_ids(masked, None, seq_length)
        inputs = {name: np.asarray([values], np.int32) for name, values in packed.items()}
        inputs["masked_lm_positions"] = np.asarray([[position + 1]], np.int32)  # +1 for [CLS]
        logits = np.asarray(pretrainer(inputs, training=False)["mlm_logits"], np.float64)[0, 0]
        probabilities = np.exp(logits - logits.max())
        probabilities /= probabilities.sum()
        best = np.argsort(-probabilities)[:top_k]
        predictions = tuple((_readable(tokenizer.id_to_piece(int(i))), float(probabilities[i])) for i in best)
        words = tokenizer.decode(ids[:position]), tokenizer.decode(ids[position + 1:])
        examples.append(FillMaskExample(f"{words[0]} [MASK] {words[1]}".strip(), answer, predictions))
        if len(examples) == max_examples:
            break
    return examples
