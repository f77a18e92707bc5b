"""Where a training step's time goes: per-op self time from TensorFlow's profiler.

Builds a step benchmarks/small_model_step.py times (albert_tiny with an 8,000-piece vocabulary; or
`--size base`): the pretraining step (batch 32 x 128, 19 masked positions, MLM + SOP, LAMB) or with
`--step classifier` a sentence classifier's fine-tuning step (batch 32 x 64, AdamW), warms it up, records
`--steps` steps with `tf.profiler.experimental` and reads the trace (TensorFlow's XSpace protocol
buffer) back: each op's self time (its events' durations less those of events nested in them on
the same thread), summed by op type and by op, per step. Op time is summed over the executor's
threads, so it exceeds the step's wall time where ops run side by side. XLA-compiled kernels show
as their fusions (`..._fusion.clone`, `reduce-window.clone`) and their launches as
`ExecutorState::ProcessAsync::Start`.

This is how the docs' per-op figures were found (docs/benchmarks.md); profiles differ between CPUs
and between TensorFlow's oneDNN and Eigen kernels, so the header says which ran.

Usage:
    python benchmarks/step_profile.py
    TF_ENABLE_ONEDNN_OPTS=1 python benchmarks/step_profile.py --top 40 --output /tmp/profile.md
    python benchmarks/step_profile.py --size base --batch 8 --masked 20 --steps 3
    python benchmarks/step_profile.py --step classifier
"""

from __future__ import annotations

import argparse
import collections
import glob
import os
import platform
import statistics
import sys
import tempfile
import time

WARMUP_STEPS = 4


def self_times(xspace_path: str) -> collections.Counter:
    """Self time in picoseconds of each event name on the host CPU plane of a profiler trace."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2  # TensorFlow's own copy of the trace format

    space = xplane_pb2.XSpace()
    with open(xspace_path, "rb") as trace:
        space.ParseFromString(trace.read())
    totals: collections.Counter = collections.Counter()
    for plane in space.planes:
        if plane.name != "/host:CPU":
            continue
        for line in plane.lines:
            events = sorted(line.events, key=lambda event: (event.offset_ps, -event.duration_ps))
            own = [event.duration_ps for event in events]
            open_events: list[tuple[int, int]] = []  # (end, index) of the events enclosing the current one
            for index, event in enumerate(events):
                while open_events and open_events[-1][0] <= event.offset_ps:
                    open_events.pop()
                if open_events:
                    own[open_events[-1][1]] -= event.duration_ps
                open_events.append((event.offset_ps + event.duration_ps, index))
            for event, picoseconds in zip(events, own):
                totals[plane.event_metadata[event.metadata_id].name] += picoseconds
    return totals


def op_type(event_name: str) -> str:
    """'scope/op:Type' -> 'Type'; an event without a type (an XLA fusion, the executor's) as named."""
    return event_name.rsplit(":", 1)[1] if ":" in event_name and not event_name.endswith("::Start") else event_name


def main():
    # Beside this script; it imports no TensorFlow at import time.
    from small_model_step import (NETWORKS, SIZES, add_step_arguments, albert_tf_step, default_sequence_length,
                                  step_shape)

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--dtype", default="float32", help="the Keras dtype policy, e.g. mixed_bfloat16")
    add_step_arguments(parser)
    parser.add_argument("--steps", type=int, default=10, help="profiled steps (figures are per step)")
    parser.add_argument("--top", type=int, default=25, help="rows of the by-op table")
    parser.add_argument("--output", help="also write the tables (markdown), written aside and renamed")
    args = parser.parse_args()
    default_sequence_length(args)
    for option in ("batch", "seq_length", "masked", "steps", "top"):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1")  # exit code 2, one line
    if args.output and not os.access(os.path.dirname(os.path.abspath(args.output)), os.W_OK):
        parser.error(f"--output {args.output}: its folder does not exist or is not writable; "
                     "create it or choose another path")  # before minutes of profiling, not after

    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf

    from albert_tf import AlbertConfig
    from albert_tf.io_utils import atomic_write_text
    from albert_tf.training.cpu_kernels import onednn_enabled, onednn_label

    preset, dims = SIZES[args.size]
    keras.config.set_dtype_policy(args.dtype)
    config = AlbertConfig.from_preset(preset).replace(vocab_size=dims["vocab"])
    step = albert_tf_step(args.step, config, args.batch, args.seq_length, args.masked)
    for _ in range(WARMUP_STEPS):
        step()
    seconds = []
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        for _ in range(args.steps):
            start = time.perf_counter()
            step()
            seconds.append(time.perf_counter() - start)
        tf.profiler.experimental.stop()
        traces = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
        if not traces:
            parser.exit(2, f"error: the profiler wrote no trace under {logdir}; is TensorFlow's profiler installed?\n")
        by_op = self_times(traces[0])

    # "Run" is the function call holding the whole step: its self time is the executor's wait, not work.
    by_op = collections.Counter({name: ps for name, ps in by_op.items() if op_type(name) != "Run"})
    by_type: collections.Counter = collections.Counter()
    for name, picoseconds in by_op.items():
        by_type[op_type(name)] += picoseconds
    per_step = 1e9 * args.steps  # picoseconds per step -> milliseconds
    total = sum(by_type.values()) / per_step
    kernels = onednn_label(onednn_enabled()) or "oneDNN state unknown"
    lines = [f"{NETWORKS[args.size]}-shaped {step_shape(args)}, {args.dtype}; {args.steps} profiled steps, "
             f"median {1000 * statistics.median(seconds):.1f} ms each while profiled; op time "
             f"{total:.1f} ms a step over all threads; {platform.machine()}, {os.cpu_count()} cores; "
             f"TensorFlow {tf.__version__}, {kernels}", "",
             "| op type | ms a step | share of op time |", "|---|---:|---:|"]
    lines += [f"| {name} | {ps / per_step:.2f} | {100 * ps / per_step / total:.1f}% |"
              for name, ps in by_type.most_common() if ps / per_step >= 0.05]
    lines += ["", f"The {args.top} largest ops:", "", "| op | ms a step |", "|---|---:|"]
    lines += [f"| `{name[:140]}` | {ps / per_step:.2f} |" for name, ps in by_op.most_common(args.top)]
    print("\n".join(lines))
    if args.output:
        command = f"`python benchmarks/step_profile.py {' '.join(sys.argv[1:])}`"
        try:
            atomic_write_text(args.output, command + "\n\n" + "\n".join(lines) + "\n")
        except OSError as error:
            parser.exit(2, f"error: could not write --output {args.output}: {error.strerror}; choose another path\n")


if __name__ == "__main__":
    main()
