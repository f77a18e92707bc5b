"""Extractive question answering: start and end logits over the sequence."""

from __future__ import annotations

from typing import Any, Sequence

import keras

from albert_tf.backbone import AlbertBackbone
from albert_tf.preprocessor import AlbertPreprocessor
from albert_tf.tasks.task_model import TaskModel, backbone_inputs, head_initializer


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertSpanQA(TaskModel):
    """SQuAD-style span prediction: a dense layer gives each token a start and
    an end score. Outputs float32 `start_logits` and `end_logits` [batch, seq].
    SQuAD v2 "no answer" is scored at position 0 ([CLS]), as in BERT and ALBERT.

    With a preprocessor, `answer(question, context)` returns the answer's text
    and its character offsets in the context (long contexts are read in
    overlapping windows, as in SQuAD evaluation).

    Args:
        backbone: the encoder.
        preprocessor: a text-pair preprocessor (question, context); its
            `sequence_length` is the window length.
        version_2: whether the model was trained to say "no answer" (SQuAD v2).
    """

    preset_kind = "span_qa"

    def __init__(self, backbone: AlbertBackbone, preprocessor: AlbertPreprocessor | None = None,
                 version_2: bool = False, labels: Sequence[str] | None = None, **kwargs):
        inputs = backbone_inputs()
        sequence = backbone(inputs)["sequence_output"]  # [B, T, H]
        logits = keras.layers.Dense(2, kernel_initializer=head_initializer(backbone), dtype="float32",
                                    name="span_logits")(sequence)  # [B, T, 2]
        outputs = {"start_logits": logits[..., 0], "end_logits": logits[..., 1]}
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self._store(backbone, preprocessor, labels, version_2=bool(version_2))

    def answer(self, question: str | Sequence[str], context: str | Sequence[str], doc_stride: int = 128,
               max_query_length: int = 64, max_answer_length: int = 30,
               null_score_diff_threshold: float = 0.0) -> Any:
        """The answer span of `question` in `context` (or of each pair of two equal-length lists).

        Returns a dict (a list of them for lists): `answer` (the text, `""`
        when a SQuAD v2 model finds no answer), `start` and `end` (character
        offsets: `context[start:end] == answer`; -1 for no answer) and `score`
        (start + end logit).
        """
        from albert_tf.finetuning.squad import answer_spans

        if self.preprocessor is None:
            raise ValueError("This AlbertSpanQA has no preprocessor (tokenizer); load it from a preset.")
        single = isinstance(question, str)
        questions = [question] if single else list(question)
        contexts = [context] if isinstance(context, str) else list(context)
        if len(questions) != len(contexts):
            raise ValueError(f"{len(questions)} questions but {len(contexts)} contexts; give one context per question.")
        length = self.preprocessor.sequence_length
        # Short windows (a small export, say) keep room for the context.
        max_query_length = min(max_query_length, length // 2)
        doc_stride = min(doc_stride, max(1, (length - max_query_length - 3) // 2))
        answers = answer_spans(
            self, self.preprocessor.tokenizer.python_tokenizer, questions, contexts,
            max_seq_length=length, doc_stride=doc_stride, max_query_length=max_query_length, max_answer_length=max_answer_length,
            version_2=self.version_2, null_score_diff_threshold=null_score_diff_threshold,
        )
        return answers[0] if single else answers
