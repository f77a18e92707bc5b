"""A model's training step against its matmul floor, peers and the code before a change.

The demo, fine-tuning and distillation train albert_tiny-sized models on CPUs. This times one
optimizer step of the demo's shape (albert_tiny: H 128, 4 layers, 2 heads, FFN 512, E 64; vocabulary
8,000), or with `--size base` ALBERT-base's (vocabulary 30,000; give `--batch 8 --masked 20` for the
other benchmarks' batch), of one of two steps (`--step`):
- `pretraining` (default): batch 32 x 128, 19 masked positions per sequence, MLM + SOP, LAMB;
- `classifier`: what `albert finetune` runs for a sentence task such as the demo's sentiment
  classifier: batch 32 x 64 (sentences of random lengths, padded), pooler, dropout 0.1, 2 labels,
  cross-entropy, AdamW;
and, in the same process and interleaved with it (so load on the machine hits both alike), its
**matmul floor**: every matmul of the step (forward, and the two of each backward: input and weight
gradients; the attention batched matmuls too) run alone in one `tf.function`, with no elementwise
work between them. The ratio step / floor is what the overhead costs; the issue's goal is at most 1.4x in float32.

Cases, each in its own subprocess:
- albert_tf float32 and mixed_bfloat16 (the floor in bfloat16 for the latter), and float32 with the
  whole step XLA-compiled (`albert_tf_xla`, what `--jit-compile` does; the floor stays TensorFlow's
  matmuls);
- with `--before REV`: the same albert_tf case on the library as it was at git revision REV
  (extracted with `git archive` to a temporary folder and put first on PYTHONPATH);
- peers of the same shape: for pretraining KerasHub `AlbertMaskedLM` (MLM only, AdamW) and Hugging
  Face `AlbertForPreTraining` (PyTorch, CPU; MLM + SOP, AdamW); for the classifier KerasHub
  `AlbertTextClassifier` and Hugging Face `AlbertForSequenceClassification`; each when installed.

Usage:
    python benchmarks/small_model_step.py --before 7340e0a
    python benchmarks/small_model_step.py --cases albert_tf albert_tf_bf16 --repeats 9
    python benchmarks/small_model_step.py --step classifier --cases albert_tf keras_hub hugging_face
    python benchmarks/small_model_step.py --size base --batch 8 --masked 20 --cases albert_tf albert_tf_bf16 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time

import classifier_cases
import pretraining_cases
from pretraining_cases import BASE
from subprocess_cases import extract_package, run_case_in_subprocess

# Each size: the albert_tf preset it starts from and the network's dimensions (vocabulary replaced).
SIZES = {
    "tiny": ("tiny", dict(vocab=8000, embedding=64, hidden=128, layers=4, heads=2, intermediate=512)),
    "base": ("base", BASE),
}
NETWORKS = {"tiny": "albert_tiny", "base": "ALBERT-base"}  # each size's name in the tables
STEPS = ("pretraining", "classifier")
SEQUENCE_LENGTHS = {"pretraining": 128, "classifier": 64}  # the demo's
WARMUP_STEPS = 3


def matmul_shapes(dims: dict, batch: int, seq_length: int, step: str, masked: int = 0) -> list[tuple]:
    """Every matmul of one training step (forward, and both backward), as (a shape, b shape, transpose_b).

    The encoder's (embedding projection, attention, feed-forward), the pooler on the [CLS] rows, then
    the heads': for `pretraining` the MLM transform and decoder on `masked` rows per sequence and the
    sentence-order layer; for `classifier` the output layer. tests/test_small_model_step.py checks
    them against the matmuls of the traced training step.
    """
    hidden, intermediate, embedding = dims["hidden"], dims["intermediate"], dims["embedding"]
    tokens, head_size = batch * seq_length, hidden // dims["heads"]
    forward = []
    for _ in range(dims["layers"]):
        forward += [(tokens, hidden, hidden)] * 4 + [(tokens, hidden, intermediate), (tokens, intermediate, hidden)]
    forward += [(tokens, embedding, hidden), (batch, hidden, hidden)]
    if step == "pretraining":
        forward += [(batch * masked, hidden, embedding), (batch * masked, embedding, dims["vocab"]), (batch, hidden, 2)]
    else:
        forward.append((batch, hidden, classifier_cases.LABELS))
    shapes = []
    for m, k, n in forward:  # y = x w; dx = dy w^T; dw = x^T dy
        shapes += [((m, k), (k, n), False), ((m, n), (k, n), True), ((k, m), (m, n), False)]
    heads = dims["heads"]
    attention = [((batch * heads, seq_length, head_size), (batch * heads, seq_length, head_size), True),
                 ((batch * heads, seq_length, seq_length), (batch * heads, seq_length, head_size), False)]
    return shapes + attention * 3 * dims["layers"]


def _matmul_floor(shapes, dtype):
    """A callable running the matmuls of `shapes` (matmul_shapes) and nothing else."""
    import tensorflow as tf

    # Variables, not constants: grappler would fold matmuls of constants away.
    operands = [(tf.Variable(tf.random.normal(a, dtype=dtype)), tf.Variable(tf.random.normal(b, dtype=dtype)), t)
                for a, b, t in shapes]

    @tf.function
    def floor():
        corners = [tf.matmul(a, b, transpose_b=t)[(0,) * len(a.shape)] for a, b, t in operands]
        return tf.add_n([tf.cast(c, tf.float32) for c in corners])

    return lambda: float(floor())


def _interleaved(step, floor, repeats):
    """Warm-up, then `repeats` rounds of one step and one floor run; each round's times."""
    losses = [step() for _ in range(WARMUP_STEPS)]
    if floor:
        for _ in range(WARMUP_STEPS):
            floor()
    seconds, floors = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        losses.append(step())
        seconds.append(time.perf_counter() - start)
        if floor:
            start = time.perf_counter()
            floor()
            floors.append(time.perf_counter() - start)
    return {"seconds": seconds, "floor_seconds": floors, "first_loss": losses[0], "last_loss": losses[-1]}


def albert_tf_step(step: str, config, batch: int, seq_length: int, masked: int, jit_compile: bool = False):
    """albert_tf's `step` (one of STEPS) of `config` on its random batch: a callable returning the loss.
    With `jit_compile` XLA compiles the whole step, as `--jit-compile` does."""
    if step == "pretraining":
        return pretraining_cases.albert_tf_step(config, batch, seq_length, masked, learning_rate=0.005,
                                                jit_compile=jit_compile)
    return classifier_cases.albert_tf_step(config, batch, seq_length, jit_compile=jit_compile)


def case_albert_tf(size, step, batch, seq_length, masked, repeats, dtype="float32", jit_compile=False):
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    from albert_tf import AlbertConfig

    preset, dims = SIZES[size]
    keras.config.set_dtype_policy(dtype)
    config = AlbertConfig.from_preset(preset).replace(vocab_size=dims["vocab"])
    train_step = albert_tf_step(step, config, batch, seq_length, masked, jit_compile)
    floor = _matmul_floor(matmul_shapes(dims, batch, seq_length, step, masked),
                          "bfloat16" if "bfloat16" in dtype else "float32")
    try:  # which CPU kernels ran: TensorFlow picks oneDNN or Eigen by CPU (docs/benchmarks.md#onednn-on-avx2-cpus)
        from albert_tf.training.cpu_kernels import onednn_enabled
    except ImportError:  # a `before` revision older than that module
        onednn_enabled = lambda: None  # noqa: E731
    return dict(_interleaved(train_step, floor, repeats), onednn=onednn_enabled())


def case_keras_hub(size, step, batch, seq_length, masked, repeats):
    dims = SIZES[size][1]
    if step == "pretraining":
        return _interleaved(pretraining_cases.keras_hub_step(dims, batch, seq_length, masked), None, repeats)
    return _interleaved(classifier_cases.keras_hub_step(dims, batch, seq_length), None, repeats)


def case_hugging_face(size, step, batch, seq_length, masked, repeats):
    dims = SIZES[size][1]
    if step == "pretraining":
        return _interleaved(pretraining_cases.hugging_face_step(dims, batch, seq_length, masked), None, repeats)
    return _interleaved(classifier_cases.hugging_face_step(dims, batch, seq_length), None, repeats)


CASES = {
    "albert_tf": ("albert_tf, float32", lambda *a: case_albert_tf(*a)),
    "albert_tf_bf16": ("albert_tf, mixed_bfloat16", lambda *a: case_albert_tf(*a, dtype="mixed_bfloat16")),
    "albert_tf_xla": ("albert_tf, float32, whole step XLA-compiled (`--jit-compile`)",
                      lambda *a: case_albert_tf(*a, jit_compile=True)),
    "before": ("albert_tf before the change, float32", lambda *a: case_albert_tf(*a)),
    "before_bf16": ("albert_tf before the change, mixed_bfloat16",
                    lambda *a: case_albert_tf(*a, dtype="mixed_bfloat16")),
    "keras_hub": ("KerasHub, AdamW, float32", lambda *a: case_keras_hub(*a)),
    "hugging_face": ("Hugging Face (PyTorch), AdamW, float32", case_hugging_face),
}
PEER_MODELS = {  # the peers' model classes, per step, for the table
    "pretraining": {"keras_hub": "AlbertMaskedLM (MLM only)", "hugging_face": "AlbertForPreTraining"},
    "classifier": {"keras_hub": "AlbertTextClassifier", "hugging_face": "AlbertForSequenceClassification"},
}


def _run_case(name, args, before_src):
    """One process of case `name`: (its result, None) or (None, why it was skipped)."""
    options = dict(size=args.size, step=args.step, batch=args.batch, seq_length=args.seq_length, masked=args.masked,
                   repeats=args.repeats)
    return run_case_in_subprocess(__file__, name, options,
                                  python_path_first=before_src if name.startswith("before") else None)


def _summary(runs: list[dict]) -> dict:
    """The process whose median step is the median over processes; every process's median step."""
    steps = [1000 * statistics.median(run["seconds"]) for run in runs]
    middle = sorted(range(len(runs)), key=steps.__getitem__)[(len(runs) - 1) // 2]
    run = runs[middle]
    return {"step_ms": steps[middle],
            "floor_ms": 1000 * statistics.median(run["floor_seconds"]) if run["floor_seconds"] else None,
            "process_step_ms": steps, "first_loss": run["first_loss"], "last_loss": run["last_loss"],
            "onednn": run.get("onednn")}


def _kernels(results: dict) -> str:
    """'; TensorFlow's oneDNN kernels on' (or off), as albert_tf's cases reported; '' without them."""
    from albert_tf.training.cpu_kernels import onednn_label

    states = {row["onednn"] for row in results.values() if row.get("onednn") is not None}
    return "".join(f"; {onednn_label(state)}" for state in sorted(states))


def add_step_arguments(parser: argparse.ArgumentParser) -> None:
    """--step, --batch, --seq-length and --masked: which step and its batch (shared with step_profile.py)."""
    parser.add_argument("--step", choices=STEPS, default="pretraining",
                        help="the pretraining step (MLM + SOP, LAMB) or a sentence classifier's fine-tuning step "
                             "(AdamW)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq-length", type=int,
                        help="tokens per sequence (default: 128 for pretraining, 64 for the classifier, the demo's)")
    parser.add_argument("--masked", type=int, default=19, help="masked positions per sequence (pretraining)")


def default_sequence_length(args: argparse.Namespace) -> None:
    """The step's own sequence length where --seq-length was not given."""
    if args.seq_length is None:
        args.seq_length = SEQUENCE_LENGTHS[args.step]


def step_shape(args: argparse.Namespace) -> str:
    """'pretraining step (vocabulary 8,000, batch 32 x 128, 19 masked positions)', for table headers."""
    head = (f"{args.masked} masked positions" if args.step == "pretraining"
            else f"{classifier_cases.LABELS} labels, dropout {classifier_cases.DROPOUT}")
    return (f"{args.step} step (vocabulary {SIZES[args.size][1]['vocab']:,}, batch {args.batch} x {args.seq_length}, "
            f"{head})")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES),
                        default=["albert_tf", "albert_tf_bf16", "before", "before_bf16", "keras_hub", "hugging_face"])
    parser.add_argument("--before", metavar="REV", help="git revision for the `before` cases (skipped without)")
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny",
                        help="the network: albert_tiny with an 8k vocabulary (the demo's) or ALBERT-base")
    add_step_arguments(parser)
    parser.add_argument("--repeats", type=int, default=15, help="timed rounds per case (medians reported)")
    parser.add_argument("--processes", type=int, default=3,
                        help="fresh processes per case (the same code can run at two speeds in two processes, "
                             "e.g. 142 or 202 ms for the bf16 tiny step; the median process is reported)")
    parser.add_argument("--output", help="also write the table (markdown) and the medians (.json beside it)")
    parser.add_argument("--run-case", choices=sorted(CASES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    default_sequence_length(args)
    for option in ("repeats", "processes", "batch", "seq_length", "masked"):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1")  # exit code 2, one line

    if args.run_case:
        print(json.dumps(CASES[args.run_case][1](args.size, args.step, args.batch, args.seq_length, args.masked,
                                                 args.repeats)))
        return

    cases = [name for name in args.cases if args.before or not name.startswith("before")]
    per_process: dict[str, list[dict]] = {name: [] for name in cases}
    with tempfile.TemporaryDirectory() as before_src:
        if args.before:
            extract_package(args.before, before_src)
        # Rounds of one process per case, so that drifts in the machine's speed hit every case alike.
        for round_index in range(args.processes):
            for name in list(per_process):
                print(f"running {name} (process {round_index + 1} of {args.processes}) ...", file=sys.stderr,
                      flush=True)
                result, error = _run_case(name, args, before_src)
                if error:
                    print(f"  {name}: skipped ({error})", file=sys.stderr)
                    del per_process[name]
                    continue
                per_process[name].append(result)
                print(f"  {name}: step {1000 * statistics.median(result['seconds']):.1f} ms", file=sys.stderr,
                      flush=True)
    results = {name: _summary(runs) for name, runs in per_process.items()}

    network = NETWORKS[args.size]
    lines = [f"{network}-shaped {step_shape(args)}; each case in {args.processes} processes, "
             f"each the median of {args.repeats} rounds after {WARMUP_STEPS} warm-up, the floor interleaved in the "
             f"same process; the median process shown, with the range over processes; {platform.machine()}, "
             f"{os.cpu_count()} cores"
             + _kernels(results) + (f"; before = {args.before}" if args.before else ""), "",
             "| case | step ms | range over processes | matmul floor ms | step / floor |", "|---|---:|---:|---:|---:|"]
    for name, row in results.items():
        floor = f"{row['floor_ms']:.1f}" if row["floor_ms"] else ""
        ratio = f"{row['step_ms'] / row['floor_ms']:.2f}x" if row["floor_ms"] else ""
        spread = f"{min(row['process_step_ms']):.1f}-{max(row['process_step_ms']):.1f}"
        label = CASES[name][0]
        if name in PEER_MODELS[args.step]:
            label = label.replace(", AdamW", f" {PEER_MODELS[args.step][name]}, AdamW")
        lines.append(f"| {label} | {row['step_ms']:.1f} | {spread} | {floor} | {ratio} |")
    print("\n" + "\n".join(lines))
    if args.output:
        from albert_tf.io_utils import atomic_write_text  # written aside and renamed, as the library's outputs

        atomic_write_text(args.output, f"`python benchmarks/small_model_step.py {' '.join(sys.argv[1:])}`\n\n"
                          + "\n".join(lines) + "\n")
        atomic_write_text(os.path.splitext(args.output)[0] + ".json", json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
