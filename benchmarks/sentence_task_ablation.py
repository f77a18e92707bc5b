"""Paper Table 5 in small: no sentence loss vs NSP vs SOP, same budget.

Pretrains one configuration (albert_tiny by default) three times with the
library API (`run_pretraining`), identical except for the sentence task:

- `none`: the SOP training records, sentence loss weight 0 (MLM only);
- `nsp`:  the NSP training records (`albert create-data --sentence-task nsp`);
- `sop`:  the SOP training records (`albert create-data`).

Each model, with its sentence head, is then evaluated on held-back NSP and
SOP records: MLM accuracy (on the SOP evaluation records), and the head's
accuracy on each task. The two record formats share one label feature, with
1 = "B is not the natural continuation of A" in both (random next /
swapped), so one head is scored on both tasks as the paper does; the `none`
head is untrained (chance level expected). Prints a markdown table.

Usage:
    albert create-data --input train.txt --spm-model spiece.model --output-dir sop_train --max-seq-length 128
    albert create-data --input train.txt --spm-model spiece.model --output-dir nsp_train --max-seq-length 128 \\
        --sentence-task nsp
    (the same for held-back text into sop_eval and nsp_eval)
    python benchmarks/sentence_task_ablation.py --sop-train sop_train --nsp-train nsp_train \\
        --sop-eval sop_eval --nsp-eval nsp_eval --output-dir runs --train-steps 10000
"""

from __future__ import annotations

import argparse
import os

RUNS = ("none", "nsp", "sop")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sop-train", required=True, help="SOP training record directory")
    parser.add_argument("--nsp-train", required=True, help="NSP training record directory")
    parser.add_argument("--sop-eval", required=True, help="held-back SOP record directory")
    parser.add_argument("--nsp-eval", required=True, help="held-back NSP record directory")
    parser.add_argument("--output-dir", required=True, help="one sub-folder per run")
    parser.add_argument("--config", default="tiny", help="preset name or config JSON path")
    parser.add_argument("--train-steps", type=int, default=10_000)
    parser.add_argument("--steps-per-checkpoint", type=int, default=None, help="default: --train-steps")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=0.00176)
    parser.add_argument("--eval-batches", type=int, default=50, help="batches of each evaluation set")
    parser.add_argument("--eval-batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--runs", nargs="+", choices=RUNS, default=list(RUNS))
    return parser.parse_args(argv)


def load_config(name: str):
    from albert_tf.presets import load_config as load

    return load(name)


def pretrain(args: argparse.Namespace, run: str, config) -> str:
    """Runs (or resumes) one pretraining run; returns its folder."""
    from albert_tf.training.pretraining import PretrainingSettings, run_pretraining

    output_dir = os.path.join(args.output_dir, run)
    settings = PretrainingSettings(
        config=config,
        records=(args.nsp_train if run == "nsp" else args.sop_train,),
        output_dir=output_dir,
        batch_size=args.batch_size,
        train_steps=args.train_steps,
        steps_per_checkpoint=args.steps_per_checkpoint or args.train_steps,
        learning_rate=args.learning_rate,
        seed=args.seed,
        sentence_loss_weight=0.0 if run == "none" else 1.0,
        progress=False,
    )
    run_pretraining(settings)
    return output_dir


def evaluate(run_dir: str, config, args: argparse.Namespace) -> dict[str, float]:
    """MLM accuracy on the SOP evaluation set and the head's NSP / SOP accuracy."""
    import keras

    from albert_tf import AlbertBackbone
    from albert_tf.data.pipeline import pretraining_dataset
    from albert_tf.pretrainer import AlbertPretrainer
    from albert_tf.training.callbacks import checkpoint_paths

    keras.config.set_dtype_policy("float32")
    # The last checkpoint holds the whole pretrainer, sentence head included
    # (backbone.keras has the backbone alone).
    pretrainer = AlbertPretrainer(AlbertBackbone(config))
    pretrainer.load_weights(checkpoint_paths(os.path.join(run_dir, "checkpoints"))[-1])
    pretrainer.compile()
    scores = {}
    for task, records in (("nsp", args.nsp_eval), ("sop", args.sop_eval)):
        dataset = pretraining_dataset(records, args.eval_batch_size, is_training=False).take(args.eval_batches)
        logs = pretrainer.evaluate(dataset, verbose=0, return_dict=True)
        scores[task] = logs["sop_accuracy"]  # the sentence head on this task's labels
        if task == "sop":
            scores["mlm"] = logs["mlm_accuracy"]
    return scores


def main(argv=None) -> int:
    args = parse_args(argv)
    config = load_config(args.config)
    rows = []
    for run in args.runs:
        run_dir = pretrain(args, run, config)
        rows.append((run, evaluate(run_dir, config, args)))
    print(f"\n{args.train_steps} steps x batch {args.batch_size}, config {args.config}\n")
    print("| sentence task in training | MLM acc | NSP acc | SOP acc |")
    print("|---|---|---|---|")
    for run, scores in rows:
        print(f"| {run} | {scores['mlm']:.1%} | {scores['nsp']:.1%} | {scores['sop']:.1%} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
