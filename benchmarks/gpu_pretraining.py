"""ALBERT-base pretraining throughput on GPU: fp32, mixed_float16, mixed_bfloat16, with and without XLA,
beside KerasHub on the same GPU, and under OneDeviceStrategy and MirroredStrategy.

One prepared run, bounded by `--budget-s` (default 300 s, start-up included):
every case runs in its own subprocess (one framework and one dtype policy per
process) with a timeout from what is left of the budget; a case that does not
fit is reported as "not run (budget)". Cases run in priority order, so a run
cut short still compares albert_tf with KerasHub. Each case builds ALBERT-base
with random weights, feeds one random batch (`pretraining_cases.py`'s: all
tokens real, 20 masked positions per sequence), runs `--warmup` steps
(tracing, XLA compilation), then times `--steps` optimizer steps, reading the
loss back after the last one (so the timing waits for the device).

Cases:
- albert_tf `AlbertPretrainer` (MLM + SOP, LAMB) in fp32, mixed_float16 (with
  loss scaling) and mixed_bfloat16, each with and without XLA (`jit_compile`),
  under Keras's default strategy (no tf.distribute);
- KerasHub `AlbertMaskedLM` (MLM only, AdamW) in fp32 and mixed_bfloat16, with XLA;
- albert_tf under `OneDeviceStrategy` (what `albert pretrain` uses on one GPU)
  and `MirroredStrategy` on all visible GPUs, mixed_bfloat16 + XLA, `--batch`
  per replica (the global batch is `--batch` x replicas).

On one H200 an XLA case takes 35-60 s (TensorFlow's import, then 25-46 s of
compilation) and the others 20-25 s, so the ten cases need about 7 minutes:
`--budget-s 300` covers the first six or seven, `--budget-s 480` all of them.
Run it from an installed checkout (`pip install -e .`): the presets are read
as the package `albert_tf.configs`.

Writes benchmarks/results/gpu_pretraining.md and .json (unless --no-save).
`--smoke` runs every case with the `tiny` config, batch 2 x 16 and one timed
step, all in this process: a check that the script works end to end on a
machine without a GPU (its figures mean nothing).

Usage:
    python benchmarks/gpu_pretraining.py                 # on a GPU machine, 5 minutes
    python benchmarks/gpu_pretraining.py --smoke --no-save
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")

# name: (label, implementation, dtype, xla, strategy). In priority order: a run that its budget cuts short
# still has the comparisons that matter (XLA-compiled, beside KerasHub, under the strategies the CLI uses)
# and the fp32 case the table's ratios are to (quick: no XLA compilation).
# strategy None is Keras's default (no tf.distribute): fit's batches come from a host iterator inside the step.
CASES = {
    "albert_tf_bf16_xla": ("albert_tf, mixed_bfloat16 + XLA", "albert_tf", "mixed_bfloat16", True, None),
    "keras_hub_bf16_xla": ("KerasHub AlbertMaskedLM (MLM only, AdamW), mixed_bfloat16 + XLA", "keras_hub",
                           "mixed_bfloat16", True, None),
    "albert_tf_one_device_bf16_xla": ("albert_tf, OneDeviceStrategy (`albert pretrain` on one GPU), "
                                      "mixed_bfloat16 + XLA", "albert_tf", "mixed_bfloat16", True, "one_device"),
    "albert_tf_mirrored_bf16_xla": ("albert_tf, MirroredStrategy (all GPUs), mixed_bfloat16 + XLA", "albert_tf",
                                    "mixed_bfloat16", True, "mirrored"),
    "albert_tf_fp32": ("albert_tf, fp32", "albert_tf", "float32", False, None),
    "albert_tf_fp32_xla": ("albert_tf, fp32 + XLA", "albert_tf", "float32", True, None),
    "keras_hub_fp32_xla": ("KerasHub AlbertMaskedLM (MLM only, AdamW), fp32 + XLA", "keras_hub", "float32", True,
                           None),
    "albert_tf_fp16_xla": ("albert_tf, mixed_float16 + XLA", "albert_tf", "mixed_float16", True, None),
    "albert_tf_bf16": ("albert_tf, mixed_bfloat16", "albert_tf", "mixed_bfloat16", False, None),
    "albert_tf_fp16": ("albert_tf, mixed_float16", "albert_tf", "mixed_float16", False, None),
}

TINY_KERAS_HUB = dict(num_layers=2, num_heads=2, embedding_dim=64, hidden_dim=128, intermediate_dim=512)
BASE_KERAS_HUB = dict(num_layers=12, num_heads=12, embedding_dim=128, hidden_dim=768, intermediate_dim=3072)


def _timed(step, warmup, steps):
    """Runs `warmup` untimed steps, then `steps` timed ones; `step(n)` runs n steps and returns the last loss."""
    start = time.perf_counter()
    first = step(warmup)
    warmup_seconds = time.perf_counter() - start
    start = time.perf_counter()
    last = step(steps)
    return {"warmup_seconds": warmup_seconds, "seconds_per_step": (time.perf_counter() - start) / steps,
            "first_loss": first, "last_loss": last}


def run_case(name, batch, seq_length, masked, warmup, steps, preset):
    """One case in this process; returns its measurements."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    import tensorflow as tf

    from pretraining_cases import BASE, albert_tf_pretrainer, random_batch

    _, implementation, dtype, xla, strategy_name = CASES[name]
    keras.config.set_dtype_policy(dtype)
    keras.utils.set_random_seed(0)
    gpus = tf.config.list_logical_devices("GPU")
    if strategy_name == "mirrored":
        strategy = tf.distribute.MirroredStrategy()
    elif strategy_name == "one_device":
        strategy = tf.distribute.OneDeviceStrategy((gpus or tf.config.list_logical_devices("CPU"))[0].name)
    else:
        strategy = tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    global_batch = batch * replicas
    data = random_batch(global_batch, seq_length, masked, BASE['vocab'])
    try:
        if implementation == "albert_tf":
            from albert_tf import AlbertConfig

            with strategy.scope():
                model = albert_tf_pretrainer(AlbertConfig.from_preset(preset), jit_compile=xla)
            dataset = tf.data.Dataset.from_tensors(data).repeat()
            if strategy_name:
                dataset = strategy.experimental_distribute_dataset(dataset)
            iterator = iter(dataset)

            def step(count):
                for _ in range(count):
                    logs = model.train_function(iterator)
                return float(keras.ops.convert_to_numpy(logs["loss"]).reshape(-1)[0])
        else:
            import keras_hub

            dims = TINY_KERAS_HUB if preset == "tiny" else BASE_KERAS_HUB
            backbone = keras_hub.models.AlbertBackbone(vocabulary_size=30000, num_groups=1, num_inner_repetitions=1,
                                                       dropout=0.0, **dims)
            model = keras_hub.models.AlbertMaskedLM(backbone, preprocessor=None)
            model.compile(optimizer=keras.optimizers.AdamW(learning_rate=1e-4, weight_decay=0.01), jit_compile=xla)
            x = {"token_ids": data["input_word_ids"], "padding_mask": data["input_mask"],
                 "segment_ids": data["input_type_ids"], "mask_positions": data["masked_lm_positions"]}
            x = {key: tf.constant(value) for key, value in x.items()}
            y, weights = tf.constant(data["masked_lm_ids"]), tf.constant(data["masked_lm_weights"])

            def step(count):
                for _ in range(count):
                    logs = model.train_on_batch(x, y, sample_weight=weights, return_dict=True)
                return float(logs["loss"])

        result = _timed(step, warmup, steps)
    finally:
        keras.config.set_dtype_policy("float32")
    tokens = global_batch * seq_length
    return {**result, "replicas": replicas, "gpus": len(gpus), "global_batch": global_batch,
            "tokens_per_second": tokens / result["seconds_per_step"]}


def _device_name() -> str:
    try:
        output = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                                text=True, timeout=30).stdout.strip().splitlines()
    except (OSError, subprocess.SubprocessError):
        output = []
    return f"{len(output)} x {output[0]}" if output else f"no GPU ({platform.processor() or platform.machine()})"


def _table(results, args, device, date) -> str:
    ok = {name: result for name, result in results.items() if "seconds_per_step" in result}
    reference = ok.get("albert_tf_fp32", {}).get("tokens_per_second")
    lines = [f"ALBERT-base pretraining throughput, batch {args.batch} x {args.seq_length} per replica "
             f"({args.masked} masked positions), {args.steps} timed steps after {args.warmup} warm-up; "
             f"{device}; {date}" + (" (SMOKE RUN: tiny config, figures meaningless)" if args.smoke else ""), "",
             "| case | replicas | seconds/step | tokens/s | vs albert_tf fp32 | warm-up s |", "|---|---|---|---|---|---|"]
    for name in CASES:
        result = results.get(name)
        if result is None or "seconds_per_step" not in result:
            reason = "not run" if result is None else result.get("error", "failed")
            lines.append(f"| {CASES[name][0]} | | {reason} | | | |")
            continue
        ratio = f"{result['tokens_per_second'] / reference:.2f}x" if reference else ""
        lines.append(f"| {CASES[name][0]} | {result['replicas']} | {result['seconds_per_step']:.4f} | "
                     f"{result['tokens_per_second']:,.0f} | {ratio} | {result['warmup_seconds']:.1f} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget-s", type=float, default=300.0, help="wall-clock budget of the whole run")
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--batch", type=int, default=64, help="batch per replica")
    parser.add_argument("--seq-length", type=int, default=128)
    parser.add_argument("--masked", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--smoke", action="store_true", help="tiny config on any machine, all cases in this process")
    parser.add_argument("--no-save", action="store_true", help="print only; leave benchmarks/results alone")
    parser.add_argument("--run-case", choices=list(CASES), help=argparse.SUPPRESS)
    parser.add_argument("--preset", default="base", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.smoke:
        args.preset, args.batch, args.seq_length, args.masked, args.warmup, args.steps = "tiny", 2, 16, 2, 1, 1

    if args.run_case:
        print(json.dumps(run_case(args.run_case, args.batch, args.seq_length, args.masked, args.warmup, args.steps,
                                  args.preset)))
        return

    started = time.monotonic()
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    device = _device_name()
    results = {}
    for name in args.cases:
        left = args.budget_s - (time.monotonic() - started)
        if left < 10:
            results[name] = {"error": "not run (budget)"}
            continue
        print(f"running {name} ({left:.0f} s of budget left) ...", file=sys.stderr, flush=True)
        if args.smoke:
            results[name] = run_case(name, args.batch, args.seq_length, args.masked, args.warmup, args.steps,
                                     args.preset)
        else:
            command = [sys.executable, os.path.abspath(__file__), "--run-case", name, "--preset", args.preset,
                       "--batch", str(args.batch), "--seq-length", str(args.seq_length), "--masked", str(args.masked),
                       "--warmup", str(args.warmup), "--steps", str(args.steps)]
            try:
                done = subprocess.run(command, capture_output=True, text=True, timeout=left,
                                      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
                if done.returncode == 0:
                    results[name] = json.loads(done.stdout.strip().splitlines()[-1])
                else:
                    results[name] = {"error": "failed: " + ((done.stderr.strip().splitlines() or ["?"])[-1])[:200]}
            except subprocess.TimeoutExpired:
                results[name] = {"error": "not run (budget)"}
        print(f"  {name}: {results[name]}", file=sys.stderr, flush=True)
    table = _table(results, args, device, date)
    print(table)
    if not args.no_save:
        os.makedirs(RESULTS, exist_ok=True)
        record = {"date": date, "device": device, "command": " ".join(["python", "benchmarks/gpu_pretraining.py",
                                                                        *sys.argv[1:]]),
                  "settings": {key: getattr(args, key) for key in ("batch", "seq_length", "masked", "warmup",
                                                                    "steps", "budget_s", "smoke")},
                  "results": results}
        for file_name, text in (("gpu_pretraining.md", table), ("gpu_pretraining.json", json.dumps(record, indent=2)
                                                                 + "\n")):
            temporary = os.path.join(RESULTS, f".{file_name}.partial")
            with open(temporary, "w", encoding="utf-8") as stream:
                stream.write(text)
            os.replace(temporary, os.path.join(RESULTS, file_name))
    failed = [name for name, result in results.items() if "failed" in result.get("error", "")]
    if failed:
        raise SystemExit(f"failed cases: {', '.join(failed)}")


if __name__ == "__main__":
    main()
