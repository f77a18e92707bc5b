"""RACE: reading the folder layout, and a multiple-choice training step."""

from __future__ import annotations

import json

import numpy as np
import pytest

from albert_tf.finetuning.features import ChoiceExample, choice_segments, encode_choice_examples
from albert_tf.finetuning.race import read_race_split
from conftest import SHARED_DATA

SPM_MODEL = SHARED_DATA / "albert" / "spiece.model"


def write_race(root, split="train", level="middle", name="1.txt", answers=("B", "D"), options=None):
    folder = root / split / level
    folder.mkdir(parents=True, exist_ok=True)
    document = {
        "id": name, "article": "Tom has a red bike. He rides it to school every day.",
        "questions": ["What colour is Tom's bike?", "Tom rides his bike to _ ."],
        "options": options or [["Blue", "Red", "Green", "Black"], ["the park", "work", "the shop", "school"]],
        "answers": list(answers),
    }
    (folder / name).write_text(json.dumps(document), encoding="utf-8")
    return folder / name


def test_reads_questions_with_four_choices_and_mapped_letters(tmp_path):
    write_race(tmp_path, level="middle", name="1.txt")
    write_race(tmp_path, level="high", name="7.txt", answers=("A", "C"))
    examples = read_race_split(str(tmp_path), "train")
    assert len(examples) == 4
    assert all(len(example.options) == 4 for example in examples)
    # high/ sorts before middle/.
    assert [example.label for example in examples] == [0, 2, 1, 3]
    assert examples[2].question == "What colour is Tom's bike?" and examples[2].options[1] == "Red"
    assert "middle/1.txt, question 1" in examples[2].guid


def test_blank_is_filled_with_the_option():
    assert choice_segments("Tom rides his bike to _ .", "school") == "Tom rides his bike to school ."
    assert choice_segments("What colour is it?", "Red") == "What colour is it? Red"


def test_bad_answer_letter_and_option_count(tmp_path):
    path = write_race(tmp_path, answers=("B", "E"))
    with pytest.raises(ValueError, match=rf"{path}, question 2: answer 'E' is not one of"):
        read_race_split(str(tmp_path), "train")
    path = write_race(tmp_path, options=[["a", "b", "c", "d"], ["a", "b", "c"]])
    with pytest.raises(ValueError, match=rf"{path}, question 2: 3 options; RACE questions have 4"):
        read_race_split(str(tmp_path), "train")


def test_missing_split_folder(tmp_path):
    with pytest.raises(ValueError, match=r"No RACE files in .*dev/\{high,middle\}/\*\.txt"):
        read_race_split(str(tmp_path), "dev")


@pytest.mark.skipif(not SPM_MODEL.exists(), reason="needs ../shared/data (real ALBERT vocabulary)")
def test_multiple_choice_training_step(tiny_config):
    import keras

    from albert_tf import AlbertBackbone
    from albert_tf.tasks import AlbertMultipleChoice
    from albert_tf.tokenizer import AlbertTokenizer

    tokenizer = AlbertTokenizer(SPM_MODEL)
    example = ChoiceExample("x", "Tom has a red bike.", "What colour?", ("Blue", "Red", "Green", "Black"), 1)
    inputs = encode_choice_examples([example, example], tokenizer, max_seq_length=24)
    assert inputs["input_word_ids"].shape == (2, 4, 24)
    ids = list(inputs["input_word_ids"][0, 1])
    context, qa = tokenizer.encode("Tom has a red bike."), tokenizer.encode("What colour? Red")
    assert ids[:len(context) + len(qa) + 3] == [tokenizer.cls_id, *context, tokenizer.sep_id, *qa, tokenizer.sep_id]
    model = AlbertMultipleChoice(AlbertBackbone(tiny_config.replace(vocab_size=tokenizer.vocab_size)), 4)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=False)
    before = [np.array(w) for w in model.trainable_weights]
    loss = model.train_on_batch(inputs, np.array([1, 1]))
    assert np.isfinite(loss)
    assert any(not np.allclose(b, np.array(a)) for b, a in zip(before, model.trainable_weights))
