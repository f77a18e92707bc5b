"""Sentence-order prediction is learned on real text within minutes of CPU (slow).

albert_tiny on 20 documents of the Wikipedia excerpt: the pretraining loss
falls and the training SOP accuracy rises well above chance in 1,000 steps
(about 2-3 minutes on 2 cores). Every segment pair appears in both orders
across the dupe-factor copies, each labelled by its order, so accuracy above
50% means the model tells the order of text it has read. The control trains
on the same records with random labels: it must stay at chance, which rules
out a label leak through the records or the input pipeline.

On held-out documents SOP stays at chance at this scale (20-93 documents,
README "Pretraining"); the paper's sentence-order numbers come from ~5,000x
more pairs.
"""

from __future__ import annotations

import csv
import pathlib

import pytest

from albert_tf import AlbertConfig
from albert_tf.data.create_pretraining_data import PretrainingDataConfig, create_pretraining_data
from albert_tf.data.documents import read_documents
from albert_tf.data.label_control import copy_with_random_labels
from albert_tf.spm_training import train_sentencepiece
from albert_tf.training.pretraining import PretrainingSettings, run_pretraining
from conftest import SHARED_DATA

WIKI = SHARED_DATA / "corpus" / "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not WIKI.exists(), reason="needs ../shared/data/corpus")]

DOCUMENTS = 20
SEQ_LENGTH = 64


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> pathlib.Path:
    """SOP records of the first 20 training documents (the demo's split: every 8th document held out).

    The vocabulary is trained on all 93 training documents, as the demo does.
    """
    work = tmp_path_factory.mktemp("sop")
    documents = [doc for index, doc in enumerate(read_documents(WIKI)) if index % 8 != 7]
    (work / "vocab.txt").write_text("\n\n".join("\n".join(doc) for doc in documents) + "\n", encoding="utf-8")
    train_sentencepiece([work / "vocab.txt"], work / "spm", vocab_size=8000, progress=False)
    corpus = work / "train.txt"
    corpus.write_text("\n\n".join("\n".join(doc) for doc in documents[:DOCUMENTS]) + "\n", encoding="utf-8")
    create_pretraining_data([str(corpus)], str(work / "spm.model"), str(work / "records"),
                            PretrainingDataConfig(max_seq_length=SEQ_LENGTH, max_predictions_per_seq=10,
                                                  dupe_factor=10),
                            progress=False)
    return work / "records"


def _pretrain(records: pathlib.Path, output: pathlib.Path) -> list[dict[str, float]]:
    config = AlbertConfig.from_preset("tiny").replace(vocab_size=8000)
    run_pretraining(PretrainingSettings(
        config=config, records=(str(records),), output_dir=str(output), batch_size=32, train_steps=1000,
        steps_per_checkpoint=100, learning_rate=5e-3, warmup_steps=200, sentence_loss_weight=5.0,
        strategy="one_device", progress=False))
    with open(output / "metrics.csv", newline="") as handle:
        return [{key: float(value) for key, value in row.items() if value not in ("", "NA")}
                for row in csv.DictReader(handle)]


def test_sop_accuracy_rises_well_above_chance_within_minutes(records, tmp_path):
    rows = _pretrain(records, tmp_path / "run")
    print("\n".join(f"step {(i + 1) * 100}: loss {r['loss']:.3f}, MLM {r['mlm_accuracy']:.3f}, "
                    f"SOP {r['sop_accuracy']:.3f}" for i, r in enumerate(rows)))
    assert rows[-1]["loss"] < rows[0]["loss"] - 1.0
    assert rows[-1]["mlm_accuracy"] > rows[0]["mlm_accuracy"]
    assert rows[-1]["sop_accuracy"] >= 0.70


def test_sop_stays_at_chance_with_random_labels(records, tmp_path):
    shuffled = tmp_path / "random_labels"
    copy_with_random_labels(records, shuffled)
    rows = _pretrain(shuffled, tmp_path / "run")
    print("\n".join(f"step {(i + 1) * 100}: SOP {r['sop_accuracy']:.3f}" for i, r in enumerate(rows)))
    assert rows[-1]["sop_accuracy"] < 0.60
