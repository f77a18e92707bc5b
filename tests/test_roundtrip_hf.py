"""Hugging Face export that pipelines accept: `albert convert --to hf` of a classifier preset runs in
`transformers.pipeline("text-classification")` with our probabilities and label names, its `AutoTokenizer`
is ALBERT's, and the folder converts back to the same classifier (tiny random model, real 30k vocabulary)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from albert_tf import AlbertConfig
from albert_tf.backbone import AlbertBackbone
from albert_tf.cli.main import main
from albert_tf.preprocessor import AlbertPreprocessor
from albert_tf.presets import load_preset
from albert_tf.tasks import AlbertClassifier
from albert_tf.tokenizer import AlbertTokenizer
from conftest import SHARED_DATA
from convert_helpers import randomize_keras

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
torch.set_num_threads(1)

SPM = SHARED_DATA / "albert" / "spiece.model"
SST2_DEV = SHARED_DATA / "glue" / "SST-2" / "dev.tsv"
pytestmark = pytest.mark.skipif(not (SPM.exists() and SST2_DEV.exists()),
                                reason="needs ../shared/data (real ALBERT vocabulary and SST-2 dev)")

LABELS = ["negative", "neutral", "positive"]
PROBABILITY_TOLERANCE = 1e-4
# Measured with transformers 5: its AlbertTokenizer gives SentencePiece's ids for only 24 of the 872 SST-2 dev
# sentences. It matches the vocabulary's user-defined pieces ( ) " - . – £ € as added tokens on the raw text and
# drops the "▁" before them ("journey ." -> ▁journey . where SentencePiece gives ▁journey ▁ .); SST-2's
# tokenized text has " ." in almost every sentence.
HF_AGREEMENTS, DEV_SENTENCES = 24, 872
USER_DEFINED = set('()"-.–£€')


def dev_sentences() -> list[str]:
    with open(SST2_DEV, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [row[0] for row in rows[1:]]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A random albert_tf classifier preset and its `--to hf` export."""
    config = AlbertConfig(vocab_size=30000, embedding_size=16, hidden_size=32, num_hidden_layers=4,
                          num_attention_heads=4, intermediate_size=64, num_hidden_groups=2, inner_group_num=2,
                          max_position_embeddings=64)
    model = AlbertClassifier(AlbertBackbone(config), len(LABELS), labels=LABELS,
                             preprocessor=AlbertPreprocessor.from_spm_model(SPM, 64))
    randomize_keras(model.backbone, seed=31)
    rng = np.random.default_rng(32)
    dense = model.get_layer("classifier")
    dense.kernel.assign(rng.normal(0.0, 0.5, tuple(dense.kernel.shape)).astype("float32"))
    dense.bias.assign(rng.normal(0.0, 0.5, tuple(dense.bias.shape)).astype("float32"))
    root = tmp_path_factory.mktemp("hf_roundtrip")
    model.save_to_preset(root / "preset")
    assert main(["convert", "--from", "preset", "--checkpoint", str(root / "preset"), "--to", "hf",
                 "--output", str(root / "hf")]) == 0
    return model, root


def test_export_is_a_sequence_classifier_with_label_names_and_tokenizer(exported):
    _, root = exported
    values = json.loads((root / "hf" / "config.json").read_text())
    assert values["architectures"] == ["AlbertForSequenceClassification"]
    assert values["id2label"] == {"0": "negative", "1": "neutral", "2": "positive"}
    assert (root / "hf" / "spiece.model").read_bytes() == SPM.read_bytes()
    reference, info = transformers.AutoModelForSequenceClassification.from_pretrained(root / "hf",
                                                                                       output_loading_info=True)
    assert type(reference).__name__ == "AlbertForSequenceClassification"
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"], info
    tokenizer = transformers.AutoTokenizer.from_pretrained(root / "hf")
    assert type(tokenizer).__name__ == "AlbertTokenizer" and tokenizer.do_lower_case
    assert tokenizer("Héllo WORLD")["input_ids"] == [2, *AlbertTokenizer(SPM).encode("Héllo WORLD"), 3]


def test_auto_tokenizer_agreement_rate_on_sst2_dev(exported):
    _, root = exported
    tokenizer = transformers.AutoTokenizer.from_pretrained(root / "hf")
    ours = AlbertTokenizer(SPM)
    sentences = dev_sentences()
    agree = [tokenizer(s)["input_ids"] == [2, *ours.encode(s), 3] for s in sentences]
    plain = [a for s, a in zip(sentences, agree) if not USER_DEFINED & set(s) and "``" not in s]
    print(f"AutoTokenizer gives albert_tf's ids on {sum(agree)}/{len(sentences)} SST-2 dev sentences; "
          f"on {sum(plain)}/{len(plain)} without the user-defined pieces")
    assert len(sentences) == DEV_SENTENCES
    assert abs(sum(agree) - HF_AGREEMENTS) <= 3
    assert all(plain)  # where the text has no user-defined piece it follows SentencePiece


def test_pipeline_gives_our_probabilities_and_label_names(exported):
    model, root = exported
    tokenizer = transformers.AutoTokenizer.from_pretrained(root / "hf")
    ours_tokenizer = AlbertTokenizer(SPM)
    sentences = [s for s in dev_sentences() if tokenizer(s)["input_ids"] == [2, *ours_tokenizer.encode(s), 3]][:16]
    sentences += ["A gripping, beautifully acted film", "Ein schöner Film über Paris, 1,000 Jahre später"]
    classifier = transformers.pipeline("text-classification", model=str(root / "hf"), top_k=None, device="cpu")
    theirs = classifier(sentences)
    expected = model.classify(sentences)
    worst = 0.0
    for ours_row, their_row in zip(expected, theirs):
        scores = {entry["label"]: entry["score"] for entry in their_row}
        assert set(scores) == set(LABELS)
        for label in LABELS:
            worst = max(worst, abs(scores[label] - ours_row["probabilities"][label]))
    print(f"pipeline vs albert_tf on {len(sentences)} real sentences: max abs probability diff {worst:.3g}")
    assert worst < PROBABILITY_TOLERANCE


def test_hf_classifier_converts_back_with_labels_and_logits(exported, tmp_path):
    model, root = exported
    assert main(["convert", "--from", "hf", "--checkpoint", str(root / "hf"), "--output", str(tmp_path / "back")]) == 0
    back = load_preset(tmp_path / "back")
    assert isinstance(back, AlbertClassifier) and back.labels == LABELS
    for ours_variable, back_variable in zip(model.weights, back.weights):  # same order: same classes, same config
        np.testing.assert_array_equal(np.asarray(back_variable), np.asarray(ours_variable), err_msg=ours_variable.path)
    inputs = model.preprocessor(dev_sentences()[:8])
    diff = float(np.max(np.abs(np.asarray(back.predict(inputs, verbose=0)) - np.asarray(model.predict(inputs,
                                                                                                      verbose=0)))))
    print(f"albert_tf -> hf -> albert_tf: max abs logit diff {diff:.3g}")
    assert diff < 1e-5
