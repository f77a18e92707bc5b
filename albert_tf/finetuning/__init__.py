"""Fine-tuning on GLUE, SQuAD v1.1/v2.0, RACE and generic CSV/TSV classification.

`run_finetuning(FinetuneSettings(...))` (or `albert finetune`) reads a task's
standard data layout, trains an `albert_tf.tasks` model with AdamW and writes
`eval_results.json`, predictions and the fine-tuned model.
"""

from albert_tf.finetuning.runner import TASK_NAMES, FinetuneResult, FinetuneSettings, run_finetuning

__all__ = ["TASK_NAMES", "FinetuneResult", "FinetuneSettings", "run_finetuning"]
