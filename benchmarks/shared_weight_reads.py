"""What reading the shared layer's weights once per forward pass saves, measured in one process.

`AlbertBackbone` in inference reads each weight of its shared transformer layer once per call
and hands that one tensor to every depth (`keras.StatelessScope`), so that under mixed precision
its float32 -> bfloat16 cast runs once, not once per depth (12 times for ALBERT-base). Calling
the functional graph directly (`keras.Model.call` of the backbone) keeps the per-depth reads:
the code before the change. Both paths run on the same model and inputs, alternating call by
call, so that the machine's drifts hit both alike (across processes they vary by 10% here).

Usage:
    python benchmarks/shared_weight_reads.py [--batch 8] [--dtype mixed_bfloat16] [--repeats 25]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

from backbone_forward import tf_inputs


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--seq-length", type=int, default=128)
    parser.add_argument("--dtype", default="mixed_bfloat16", help="the Keras dtype policy")
    parser.add_argument("--repeats", type=int, default=25, help="timed calls of each path (medians reported)")
    args = parser.parse_args()
    if args.repeats < 1 or min(args.batch) < 1:
        parser.error("--repeats and --batch must be at least 1")

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    from albert_tf import AlbertBackbone, AlbertConfig

    model = AlbertBackbone(AlbertConfig.from_preset("base"), dtype=args.dtype)
    paths = {
        "weights read once (now)": tf.function(lambda x: model(x, training=False)["pooled_output"]),
        "read at every depth (before)": tf.function(
            lambda x: super(AlbertBackbone, model).call(x, training=False)["pooled_output"]),
    }
    print(f"ALBERT-base forward, {args.dtype}, sequence {args.seq_length}, median of {args.repeats} alternating "
          f"calls; {platform.processor() or platform.machine()}, {os.cpu_count()} cores\n")
    print("| batch | " + " | ".join(paths) + " | saved |")
    print("|---|" + "---|" * (len(paths) + 1))
    for batch in args.batch:
        inputs = tf_inputs(batch, args.seq_length, ("input_word_ids", "input_mask", "input_type_ids"))
        for path in paths.values():  # tracing and warm-up
            for _ in range(3):
                path(inputs).numpy()
        seconds: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(args.repeats):
            for name, path in paths.items():
                start = time.perf_counter()
                path(inputs).numpy()
                seconds[name].append(time.perf_counter() - start)
        now, before = (1000 * statistics.median(seconds[name]) for name in paths)
        print(f"| {batch} x {args.seq_length} | {now:.1f} ms | {before:.1f} ms | "
              f"{before - now:.1f} ms ({(before - now) / before:.1%}) |")


if __name__ == "__main__":
    main()
