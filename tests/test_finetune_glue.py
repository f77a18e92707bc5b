"""GLUE and CSV/TSV task reading: layouts, label sets, and errors that name file and line."""

from __future__ import annotations

import pytest

from albert_tf.finetuning.csv_task import CsvTask
from albert_tf.finetuning.glue import GLUE_TASKS
from conftest import SHARED_DATA

SST2 = SHARED_DATA / "glue" / "SST-2"


def write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_label_lists_match_tf_models_processors():
    classifier_data_lib = pytest.importorskip("official.nlp.data.classifier_data_lib")
    processors = {
        "cola": classifier_data_lib.ColaProcessor, "sst2": classifier_data_lib.SstProcessor,
        "mrpc": classifier_data_lib.MrpcProcessor, "stsb": classifier_data_lib.StsBProcessor,
        "qqp": classifier_data_lib.QqpProcessor, "mnli": classifier_data_lib.MnliProcessor,
        "qnli": classifier_data_lib.QnliProcessor, "rte": classifier_data_lib.RteProcessor,
        "wnli": classifier_data_lib.WnliProcessor,
    }
    assert set(processors) == set(GLUE_TASKS)
    for name, processor_class in processors.items():
        # MnliProcessor.__init__ calls tfds.load (network): take get_labels without it.
        labels = processor_class.__new__(processor_class).get_labels() if name == "mnli" else \
            processor_class().get_labels()
        expected = GLUE_TASKS[name].label_list
        assert (labels is None and expected is None) or tuple(labels) == expected, name


@pytest.mark.skipif(not SST2.exists(), reason="needs ../shared/data/glue/SST-2")
def test_reads_real_sst2_dev():
    examples = GLUE_TASKS["sst2"].read(str(SST2), "dev.tsv", labelled=True)
    assert len(examples) == 872
    assert examples[0].text_a.startswith("it 's a charming and often affecting journey")
    assert examples[0].label == "1" and examples[0].text_b is None
    assert examples[0].guid.endswith("dev.tsv:2")


def test_glue_layouts(tmp_path):
    write(tmp_path / "train.tsv", ["gj04\t1\t\tOur friends won't buy this analysis.",
                                   "gj04\t0\t*\tThey drank the pub."])
    cola = GLUE_TASKS["cola"].read(str(tmp_path), "train.tsv", labelled=True)
    assert [(e.text_a, e.label) for e in cola] == [("Our friends won't buy this analysis.", "1"),
                                                   ("They drank the pub.", "0")]
    header = "index\tpromptID\tpairID\tgenre\ts1b\ts2b\ts1p\ts2p\tsentence1\tsentence2\tlabel1\tgold_label"
    write(tmp_path / "dev_matched.tsv", [header, "0\t1\t2\tg\tb\tb\tp\tp\tA man eats.\tSomeone eats.\tx\tentailment"])
    mnli = GLUE_TASKS["mnli"].read(str(tmp_path), "dev_matched.tsv", labelled=True)
    assert (mnli[0].text_a, mnli[0].text_b, mnli[0].label) == ("A man eats.", "Someone eats.", "entailment")
    write(tmp_path / "test.tsv", ["index\tsentence1\tsentence2", "7\tA \"quoted\" one\tB"])
    test = GLUE_TASKS["rte"].read(str(tmp_path), "test.tsv", labelled=False)
    assert (test[0].index, test[0].text_a, test[0].label) == ("7", 'A "quoted" one', None)
    stsb = GLUE_TASKS["stsb"]
    assert stsb.prediction_strings([5.7, -0.2, 3.25]) == ["5.000", "0.000", "3.250"]
    assert GLUE_TASKS["qnli"].prediction_strings([1, 0]) == ["not_entailment", "entailment"]


def test_label_outside_label_set_names_file_and_line(tmp_path):
    write(tmp_path / "train.tsv", ["sentence\tlabel", "good film\t1", "bad film\tpositive"])
    with pytest.raises(ValueError, match=r"train\.tsv, line 3: label 'positive' is not one of the task's labels"):
        GLUE_TASKS["sst2"].read(str(tmp_path), "train.tsv", labelled=True)


def test_non_numeric_regression_label(tmp_path):
    header = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore"
    write(tmp_path / "dev.tsv", [header, "0\tg\tf\ty\to\ts\ts\tA\tB\thigh"])
    with pytest.raises(ValueError, match=r"dev\.tsv, line 2: label 'high' is not a number"):
        GLUE_TASKS["stsb"].read(str(tmp_path), "dev.tsv", labelled=True)


def test_missing_column_and_short_row(tmp_path):
    write(tmp_path / "train.tsv", ["text\tlabel", "good\t1"])
    with pytest.raises(ValueError, match=r"no 'sentence' column \(needed as the text_a\); the header has"):
        GLUE_TASKS["sst2"].read(str(tmp_path), "train.tsv", labelled=True)
    write(tmp_path / "train.tsv", ["sentence\tlabel", "good\t1", "no label here"])
    with pytest.raises(ValueError, match=r"train\.tsv, line 3: 1 fields, but the label column is field 2"):
        GLUE_TASKS["sst2"].read(str(tmp_path), "train.tsv", labelled=True)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="Data file not found: .*train.tsv"):
        GLUE_TASKS["sst2"].read(str(tmp_path), "train.tsv", labelled=True)


def test_csv_task_named_columns_and_label_set(tmp_path):
    write(tmp_path / "train.csv", ["id,review,title,stars", '1,"Great, really",A,pos', "2,Awful,B,neg",
                                   "3,Fine,C,pos"])
    task = CsvTask(",", "review", "stars", text_pair_column="title")
    examples, labels = task.read_train(str(tmp_path))
    assert labels == ("neg", "pos")
    assert (examples[0].text_a, examples[0].text_b, examples[0].label) == ("Great, really", "A", "pos")
    write(tmp_path / "dev.csv", ["id,review,title,stars", "4,Meh,D,neutral"])
    with pytest.raises(ValueError, match=r"dev\.csv, line 2: label 'neutral' is not one of"):
        task.read(str(tmp_path), "dev", labels)
    with pytest.raises(ValueError, match=r"no 'text' column .*--text-column"):
        CsvTask(",", "text", "stars").read_train(str(tmp_path))
    # An explicit label set also checks the train file.
    with pytest.raises(ValueError, match=r"train\.csv, line 3: label 'neg'"):
        CsvTask(",", "review", "stars", labels=("pos", "neutral")).read_train(str(tmp_path))
