"""ALBERT-base backbone forward pass, side by side with peer implementations.

Every case runs in its own subprocess (one framework loaded, nothing else
competing for the cores), builds ALBERT-base with random weights, feeds the
same random batch (8 x 128 by default, all tokens real), warms up, and times
`--repeats` calls; the table reports medians and ratios measured in one run.

The floor is the same network's dense matmuls alone (embedding projection,
12 x [Q, K, V, O, FFN in, FFN out], pooler) chained as plain 2-D `tf.matmul`s
in one `tf.function`: what this machine's TensorFlow matmul kernels need for
the FLOPs no implementation can avoid (attention scores, softmax, LayerNorm
and GELU come on top).

`--before REV` adds the albert_tf cases on the library as it was at git
revision REV (extracted with `git archive`, first on the case's PYTHONPATH),
timed in the same run.

Usage (peers need `pip install -e ".[bench]"`):
    python benchmarks/backbone_forward.py                 # all cases, markdown table
    python benchmarks/backbone_forward.py --cases albert_tf albert_tf_xla
    python benchmarks/backbone_forward.py --cases albert_tf_bf16 before_bf16 matmul_floor_bf16 --before HEAD~1
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

from subprocess_cases import extract_package, run_case_in_subprocess

VOCAB, EMBEDDING, HIDDEN, LAYERS, HEADS, INTERMEDIATE = 30000, 128, 768, 12, 12, 3072


def _random_ids(batch, seq_length):
    import numpy as np

    return np.random.default_rng(0).integers(5, VOCAB, size=(batch, seq_length)).astype("int32")


def _time(call, repeats):
    call()  # warm-up: tracing / compilation
    call()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    return seconds


def tf_inputs(batch, seq_length, names):
    """The random batch as tensors under `names` (word ids, mask, segment ids), every token real."""
    import tensorflow as tf

    ids = tf.constant(_random_ids(batch, seq_length))
    word, mask, segment = names
    return {word: ids, mask: tf.ones_like(ids), segment: tf.zeros_like(ids)}


def _time_keras(model, inputs, output_name, xla, repeats):
    import tensorflow as tf

    forward = tf.function(lambda x: model(x, training=False)[output_name], jit_compile=xla)
    return _time(lambda: forward(inputs).numpy(), repeats)


def case_albert_tf(batch, seq_length, repeats, xla=False, dtype="float32"):
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    from albert_tf import AlbertBackbone, AlbertConfig

    model = AlbertBackbone(AlbertConfig.from_preset("base"), dtype=dtype)
    inputs = tf_inputs(batch, seq_length, ("input_word_ids", "input_mask", "input_type_ids"))
    return _time_keras(model, inputs, "pooled_output", xla, repeats)


def case_keras_hub(batch, seq_length, repeats, xla=False):
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras_hub

    model = keras_hub.models.AlbertBackbone(
        vocabulary_size=VOCAB, num_layers=LAYERS, num_heads=HEADS, num_groups=1, num_inner_repetitions=1,
        embedding_dim=EMBEDDING, hidden_dim=HIDDEN, intermediate_dim=INTERMEDIATE, dropout=0.0,
    )
    inputs = tf_inputs(batch, seq_length, ("token_ids", "padding_mask", "segment_ids"))
    return _time_keras(model, inputs, "pooled_output", xla, repeats)


def case_model_garden(batch, seq_length, repeats, xla=False):
    from official.nlp.modeling.networks import albert_encoder

    model = albert_encoder.AlbertEncoder(
        vocab_size=VOCAB, embedding_width=EMBEDDING, hidden_size=HIDDEN, num_layers=LAYERS,
        num_attention_heads=HEADS, intermediate_size=INTERMEDIATE, type_vocab_size=2,
        dropout_rate=0.0, attention_dropout_rate=0.0, dict_outputs=True,
    )
    inputs = tf_inputs(batch, seq_length, ("input_word_ids", "input_mask", "input_type_ids"))
    return _time_keras(model, inputs, "pooled_output", xla, repeats)


def case_hugging_face(batch, seq_length, repeats):
    import torch
    import transformers

    torch.set_num_threads(os.cpu_count() or 1)
    config = transformers.AlbertConfig(
        vocab_size=VOCAB, embedding_size=EMBEDDING, hidden_size=HIDDEN, num_hidden_layers=LAYERS,
        num_attention_heads=HEADS, intermediate_size=INTERMEDIATE, hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    model = transformers.AlbertModel(config).eval()
    ids = torch.from_numpy(_random_ids(batch, seq_length).astype("int64"))
    mask, segments = torch.ones_like(ids), torch.zeros_like(ids)

    def forward():
        with torch.inference_mode():
            return model(input_ids=ids, attention_mask=mask, token_type_ids=segments).pooler_output

    return _time(forward, repeats)


def case_matmul_floor(batch, seq_length, repeats, dtype="float32"):
    import tensorflow as tf

    shapes = [(EMBEDDING, HIDDEN)] + LAYERS * ([(HIDDEN, HIDDEN)] * 4 + [(HIDDEN, INTERMEDIATE), (INTERMEDIATE, HIDDEN)])
    # stddev 1/sqrt(fan_in) keeps the chained activations near unit scale (no denormals).
    kernels = [tf.cast(tf.random.normal(shape, stddev=shape[0] ** -0.5), dtype) for shape in shapes]
    pooler = tf.cast(tf.random.normal((HIDDEN, HIDDEN), stddev=HIDDEN ** -0.5), dtype)
    tokens = tf.cast(tf.random.normal((batch * seq_length, EMBEDDING)), dtype)

    @tf.function(autograph=False)
    def matmuls():
        # A chain, so every product is consumed and nothing can be pruned.
        hidden = tokens
        for kernel in kernels:
            hidden = tf.matmul(hidden, kernel)
        return tf.matmul(hidden[:batch], pooler)

    return _time(lambda: matmuls().numpy(), repeats)


CASES = {
    "albert_tf": ("albert_tf AlbertBackbone, tf.function", lambda b, t, r: case_albert_tf(b, t, r)),
    "albert_tf_xla": ("albert_tf AlbertBackbone, tf.function + XLA", lambda b, t, r: case_albert_tf(b, t, r, xla=True)),
    "albert_tf_bf16": ("albert_tf AlbertBackbone, mixed_bfloat16, tf.function",
                       lambda b, t, r: case_albert_tf(b, t, r, dtype="mixed_bfloat16")),
    "albert_tf_bf16_xla": ("albert_tf AlbertBackbone, mixed_bfloat16, tf.function + XLA",
                           lambda b, t, r: case_albert_tf(b, t, r, xla=True, dtype="mixed_bfloat16")),
    "before": ("albert_tf before the change (--before), tf.function", lambda b, t, r: case_albert_tf(b, t, r)),
    "before_bf16": ("albert_tf before the change (--before), mixed_bfloat16, tf.function",
                    lambda b, t, r: case_albert_tf(b, t, r, dtype="mixed_bfloat16")),
    "keras_hub": ("KerasHub AlbertBackbone, tf.function", lambda b, t, r: case_keras_hub(b, t, r)),
    "keras_hub_xla": ("KerasHub AlbertBackbone, tf.function + XLA", lambda b, t, r: case_keras_hub(b, t, r, xla=True)),
    "model_garden": ("TF Model Garden AlbertEncoder, tf.function", lambda b, t, r: case_model_garden(b, t, r)),
    "model_garden_xla": ("TF Model Garden AlbertEncoder, tf.function + XLA",
                         lambda b, t, r: case_model_garden(b, t, r, xla=True)),
    "hugging_face": ("Hugging Face AlbertModel (PyTorch, CPU)", case_hugging_face),
    "matmul_floor": ("floor: the dense matmuls alone, fp32", lambda b, t, r: case_matmul_floor(b, t, r)),
    "matmul_floor_bf16": ("floor: the dense matmuls alone, bf16",
                          lambda b, t, r: case_matmul_floor(b, t, r, dtype="bfloat16")),
}
PEERS = ("keras_hub", "keras_hub_xla", "model_garden", "model_garden_xla", "hugging_face")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES), default=list(CASES))
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq-length", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=7, help="timed calls per case (median reported)")
    parser.add_argument("--before", metavar="REV", help="git revision for the `before` cases (skipped without)")
    parser.add_argument("--run-case", choices=sorted(CASES), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.run_case:
        seconds = CASES[args.run_case][1](args.batch, args.seq_length, args.repeats)
        print(json.dumps(seconds))
        return

    cases = [name for name in args.cases if args.before or not name.startswith("before")]
    medians = {}
    with tempfile.TemporaryDirectory() as before_src:
        if args.before:
            extract_package(args.before, before_src)
        for name in cases:
            print(f"running {name} ...", file=sys.stderr, flush=True)
            seconds, error = run_case_in_subprocess(
                __file__, name, dict(batch=args.batch, seq_length=args.seq_length, repeats=args.repeats),
                python_path_first=before_src if name.startswith("before") else None)
            medians[name] = statistics.median(seconds) if seconds else None
            if error:
                print(f"  {name}: skipped ({error})", file=sys.stderr)

    fastest_peer = min((medians[n] for n in PEERS if medians.get(n)), default=None)
    print(f"\nALBERT-base forward, batch {args.batch} x {args.seq_length}, median of {args.repeats}; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores\n")
    print("| implementation | seconds | vs fastest peer | vs its dtype's matmul floor |")
    print("|---|---|---|---|")
    for name in cases:
        median = medians[name]
        if median is None:
            print(f"| {CASES[name][0]} | not run | | |")
            continue
        # bfloat16 cases against the bfloat16 floor, the others against the float32 one.
        floor = medians.get("matmul_floor_bf16" if "bf16" in name else "matmul_floor")
        peer_ratio = f"{median / fastest_peer:.2f}x" if fastest_peer else ""
        floor_ratio = f"{median / floor:.2f}x" if floor else ""
        print(f"| {CASES[name][0]} | {median:.3f} | {peer_ratio} | {floor_ratio} |")


if __name__ == "__main__":
    main()
