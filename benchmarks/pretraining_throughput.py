"""ALBERT-base pretraining throughput, side by side with peer implementations.

Every case runs in its own subprocess (one framework loaded, nothing else
competing for the cores), builds the ALBERT-base pretraining model with random
weights, feeds the same random batch every step (8 x 128 tokens by default, all
real, 20 masked positions per sequence, all with weight 1), runs two warm-up
steps, then times `--repeats` optimizer steps; the table reports the median
seconds per step, tokens/s (batch x seq_length / seconds) and ratios measured
in one run. Another job on the same cores can double a case's time (seen on a
2-core machine): compare only cases from one run on an otherwise idle machine.

One timed call is one full optimizer step:
- KerasHub: `model.train_on_batch(x, y, sample_weight=...)`, what Keras users
  call for a single step. Around the compiled `model.train_function` it only
  resets the metrics and reads the logs back to Python; the read-back is also
  what makes the timing wait for the step to finish.
- albert_tf: the same, spelled out: `model.reset_metrics()`, then
  `model.train_function(iter([features]))` (the compiled step `fit` runs) and
  the loss read back. `train_on_batch` itself cannot be used: it passes
  `train_step` an `(x, None, None)` tuple, while `AlbertPretrainer.train_step`
  expects the feature dict that `fit` passes.
- Hugging Face: forward with the labels, `loss.backward()`,
  `optimizer.step()`, `optimizer.zero_grad()`, then `loss.item()`.

What each case trains:
- albert_tf `AlbertPretrainer` (MLM + sentence-order heads) with
  `create_optimizer("lamb", ...)`: ALBERT's LAMB with global-norm clipping at
  1.0, weight decay 0.01, peak learning rate 0.00176 and no warm-up (so the
  first steps already update).
  Mixed precision is set as `albert pretrain --dtype` sets it, with
  `keras.config.set_dtype_policy` before the model is built.
- KerasHub `AlbertMaskedLM`: masked-LM head only (KerasHub has no
  sentence-order head), `keras.optimizers.AdamW` (learning rate 1e-4, weight
  decay 0.01, no clipping).
- Hugging Face `AlbertForPreTraining` (PyTorch, CPU, all cores): MLM +
  sentence-order, `torch.optim.AdamW` (learning rate 1e-4, weight decay 0.01,
  no clipping).

Each case's first and last step losses go to stderr, and a case whose last
loss is not finite fails. Since the same batch is fed at every step, the loss
should also fall over the run (it does over the default 2 + 5 steps; over two
or three steps LAMB's may not yet).

Usage (peers need `pip install -e ".[bench]"`):
    python benchmarks/pretraining_throughput.py                 # all cases, markdown table
    python benchmarks/pretraining_throughput.py --cases albert_tf albert_tf_xla --repeats 3
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

from pretraining_cases import BASE, albert_tf_step, hugging_face_step, keras_hub_step
from subprocess_cases import run_case_in_subprocess

WARMUP_STEPS = 2


def _time_steps(step, repeats):
    """Runs the warm-up steps, then `repeats` timed ones; `step()` returns that step's loss."""
    losses = [step() for _ in range(WARMUP_STEPS)]  # warm-up: tracing / compilation
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        losses.append(step())
        seconds.append(time.perf_counter() - start)
    return {"seconds": seconds, "first_loss": float(losses[0]), "last_loss": float(losses[-1])}


def case_albert_tf(batch, seq_length, masked, repeats, xla=False, dtype="float32"):
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    from albert_tf import AlbertConfig

    keras.config.set_dtype_policy(dtype)
    step = albert_tf_step(AlbertConfig.from_preset("base"), batch, seq_length, masked, jit_compile=xla)
    return _time_steps(step, repeats)


def case_keras_hub(batch, seq_length, masked, repeats, xla=False):
    return _time_steps(keras_hub_step(BASE, batch, seq_length, masked, xla=xla), repeats)


def case_hugging_face(batch, seq_length, masked, repeats):
    return _time_steps(hugging_face_step(BASE, batch, seq_length, masked), repeats)


CASES = {
    "albert_tf": ("albert_tf AlbertPretrainer (MLM+SOP), LAMB, fp32", lambda *a: case_albert_tf(*a)),
    "albert_tf_xla": ("albert_tf AlbertPretrainer (MLM+SOP), LAMB, fp32 + XLA",
                      lambda *a: case_albert_tf(*a, xla=True)),
    "albert_tf_bf16": ("albert_tf AlbertPretrainer (MLM+SOP), LAMB, mixed_bfloat16",
                       lambda *a: case_albert_tf(*a, dtype="mixed_bfloat16")),
    "albert_tf_bf16_xla": ("albert_tf AlbertPretrainer (MLM+SOP), LAMB, mixed_bfloat16 + XLA",
                           lambda *a: case_albert_tf(*a, xla=True, dtype="mixed_bfloat16")),
    "keras_hub": ("KerasHub AlbertMaskedLM (MLM only, no SOP head), AdamW, fp32", lambda *a: case_keras_hub(*a)),
    "keras_hub_xla": ("KerasHub AlbertMaskedLM (MLM only, no SOP head), AdamW, fp32 + XLA",
                      lambda *a: case_keras_hub(*a, xla=True)),
    "hugging_face": ("Hugging Face AlbertForPreTraining (MLM+SOP), AdamW, fp32 (PyTorch, CPU)", case_hugging_face),
}
PEERS = ("keras_hub", "keras_hub_xla", "hugging_face")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES), default=list(CASES))
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq-length", type=int, default=128)
    parser.add_argument("--masked", type=int, default=20, help="masked positions per sequence")
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per case (median reported)")
    parser.add_argument("--run-case", choices=sorted(CASES), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.run_case:
        result = CASES[args.run_case][1](args.batch, args.seq_length, args.masked, args.repeats)
        print(f"{args.run_case}: loss {result['first_loss']:.4f} (first step) -> {result['last_loss']:.4f} "
              f"(last step)", file=sys.stderr)
        if not math.isfinite(result["last_loss"]):
            raise SystemExit(f"{args.run_case}: the last step's loss is {result['last_loss']}")
        print(json.dumps(result))
        return

    medians = {}
    for name in args.cases:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        result, error = run_case_in_subprocess(__file__, name, dict(
            batch=args.batch, seq_length=args.seq_length, masked=args.masked, repeats=args.repeats))
        medians[name] = statistics.median(result["seconds"]) if result else None
        if error:
            print(f"  {name}: skipped ({error})", file=sys.stderr)
        else:
            print(f"  {name}: loss {result['first_loss']:.4f} (first step) -> {result['last_loss']:.4f} (last step)",
                  file=sys.stderr, flush=True)

    tokens = args.batch * args.seq_length
    fastest_peer = min((medians[n] for n in PEERS if medians.get(n)), default=None)
    print(f"\nALBERT-base pretraining, one optimizer step on batch {args.batch} x {args.seq_length} "
          f"({args.masked} masked positions per sequence), median of {args.repeats} after {WARMUP_STEPS} warm-up; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores\n")
    print("| implementation | seconds/step | tokens/s | speed vs fastest peer |")
    print("|---|---|---|---|")
    for name in args.cases:
        median = medians[name]
        if median is None:
            print(f"| {CASES[name][0]} | not run | | |")
            continue
        # Speed ratio: above 1.00x is faster than the fastest peer.
        peer_ratio = f"{fastest_peer / median:.2f}x" if fastest_peer else ""
        print(f"| {CASES[name][0]} | {median:.3f} | {tokens / median:,.0f} | {peer_ratio} |")


if __name__ == "__main__":
    main()
