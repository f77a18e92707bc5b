"""Full int8 on CPU: which ops leave XNNPACK's int8 kernels, and what keeping them float buys.

Models (`[1, 128]` token-id classifiers, `albert_tf.export.tflite.convert_ids_model`):

* `fp32`, `dynamic int8` (the peers: int8 weights, float activations);
* `full int8, all ops` (the old graph: every op int8, `TFLITE_BUILTINS_INT8`;
  `albert_tf.export.full_int8.quantize_int8(..., int8_ops=None)`);
* `full int8, CPU recipe` (the new default of `--quantize int8`: int8
  activations only for FULLY_CONNECTED and GATHER, `full_int8.CPU_INT8_OPS`).

for albert_base with random weights (latency does not depend on them) and a
fine-tuned albert_tiny SST-2 classifier (--classifier), whose accuracy on all
872 SST-2 dev rows is measured at --eval-seq through `[1, --eval-seq]`
conversions. Both int8 graphs are calibrated on the first --calibration-rows
SST-2 *train* sentences.

Per-op profile: LiteRT's Python interpreter has no op profiler and no
`benchmark_model` binary ships on PyPI, so every op of a model is cut out into
a one-op `.tflite` (same tensors, quantization and weights; its activation
inputs become model inputs) and timed alone, once with the default XNNPACK
delegate and once with LiteRT's builtin kernels only. "XNNPACK" says whether
the delegate took the op; ops of the same kind and shapes are timed once and
multiplied by their count. Isolated ops run with their weights hot in cache
and pay one call each, so the sums are not the whole model's time: they rank
the ops; the whole-model rows are the figures to quote. The middle encoder
layer is also cut out whole (every op from its first to its last) and timed
per format.

Latency: `ai_edge_litert` Interpreter (XNNPACK), --threads threads, the
models interleaved in --rounds rounds of 5 calls (the same load for all),
median of all calls. Floor: the sum of the model's isolated FULLY_CONNECTED
ops (its matmuls with weights, which every recipe keeps).

Convert first (CPU heavy, not timed), then time alone:

    flock -s /tmp/albert-cpu.lock .venv/bin/python benchmarks/int8_profile.py \\
        --classifier /tmp/sst2_tiny/model --convert-only
    flock -x /tmp/albert-cpu.lock .venv/bin/python benchmarks/int8_profile.py \\
        --classifier /tmp/sst2_tiny/model

(the classifier: `albert finetune` command in docs/export-and-serving.md).
Converted models and accuracies are cached in --cache-dir. Writes
benchmarks/results/int8_profile.md and .json.
"""

from __future__ import annotations

import argparse
import collections
import copy
import json
import os
import pathlib
import platform
import re
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the top-level `export` package, also without a reinstall
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
SEQ = 128
MODELS = {  # key -> label
    "fp32": "TFLite fp32",
    "dynamic": "dynamic int8",
    "int8_all": "full int8, all ops (old)",
    "int8_cpu": "full int8, CPU recipe (new)",
}
# The figures before this change (benchmarks/results/export.md, `python benchmarks/export_sizes.py`,
# same machine, 2 threads, load average 3-4): latency ms and SST-2 dev accuracy.
BEFORE = {
    ("base", "fp32"): 224.23, ("base", "dynamic"): 70.04, ("base", "int8_all"): 130.96,
    ("tiny", "fp32"): 3.96, ("tiny", "dynamic"): 1.39, ("tiny", "int8_all"): 5.40,
}


# ----------------------------------------------------------------- conversion
def _all_int8(model, seq: int, data) -> bytes:
    """The old graph: `convert_ids_model`'s converter, every op int8."""
    import tensorflow as tf

    from albert_tf.backbone import INPUT_NAMES
    from albert_tf.export.full_int8 import quantize_int8
    from albert_tf.export.heads import serving_outputs
    from albert_tf.export.tflite import DEVICE_OUTPUTS, INT8_PADDING_SCORE, _frozen_signature, with_padding_score

    model = with_padding_score(model, INT8_PADDING_SCORE)
    names = DEVICE_OUTPUTS["classifier"]
    specs = [tf.TensorSpec([1, seq], tf.int32, name=name) for name in INPUT_NAMES]

    def forward(input_word_ids, input_mask, input_type_ids):
        inputs = {"input_word_ids": input_word_ids, "input_mask": input_mask, "input_type_ids": input_type_ids}
        return [serving_outputs(model, "classifier", inputs)[name] for name in names]

    converter = tf.lite.TFLiteConverter.from_concrete_functions([_frozen_signature(forward, specs, names)],
                                                                tf.Module())
    return quantize_int8(converter, data, int8_ops=None)


def convert(key: str, model, seq: int, data) -> bytes:
    from albert_tf.export.tflite import convert_ids_model

    if key == "int8_all":
        return _all_int8(model, seq, data)
    quantize = {"fp32": "none", "dynamic": "dynamic", "int8_cpu": "int8"}[key]
    return convert_ids_model(model, seq, quantize, data, kind="classifier")


def convert_all(args, cache: pathlib.Path) -> None:
    """Writes every model and the accuracies into `cache`."""
    import keras

    from albert_tf import AlbertConfig, AlbertTokenizer
    from albert_tf.backbone import AlbertBackbone
    from albert_tf.export.representative_data import encode_texts, read_labeled_tsv, representative_dataset
    from albert_tf.export.tflite import make_interpreter, run_ids_model
    from albert_tf.io_utils import atomic_write_bytes, atomic_write_text
    from albert_tf.tasks import AlbertClassifier

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from export_sizes import load_classifier, softmax

    keras.utils.set_random_seed(0)
    tokenizer = AlbertTokenizer(DATA / "albert" / "spiece.model")
    calibration, _ = read_labeled_tsv(DATA / "glue" / "SST-2" / "train.tsv", limit=args.calibration_rows)
    dev_texts, dev_labels = read_labeled_tsv(DATA / "glue" / "SST-2" / "dev.tsv")
    dev = encode_texts(tokenizer, dev_texts, args.eval_seq)
    data = representative_dataset(tokenizer, calibration, SEQ, limit=args.calibration_rows)
    eval_data = representative_dataset(tokenizer, calibration, args.eval_seq, limit=args.calibration_rows)

    tiny = load_classifier(args.classifier)
    base = AlbertClassifier(AlbertBackbone(AlbertConfig.from_preset("base")), num_classes=2)
    keras_probs = softmax(np.asarray(tiny.predict(dev, batch_size=64, verbose=0), np.float64))
    accuracy = {"Keras fp32": {"acc": float(np.mean(keras_probs.argmax(-1) == dev_labels)), "agree": 1.0,
                               "max_dp": 0.0}}
    for key in MODELS:
        for name, model in (("base", base), ("tiny", tiny)):
            started = time.time()
            atomic_write_bytes(cache / f"{name}_{key}.tflite", convert(key, model, SEQ, data))
            print(f"converted {name} {key} in {time.time() - started:.0f} s", flush=True)
        flatbuffer = convert(key, tiny, args.eval_seq, eval_data)
        probs = run_ids_model(make_interpreter(flatbuffer, num_threads=args.threads), dev)["probabilities"]
        accuracy[MODELS[key]] = {"acc": float(np.mean(probs.argmax(-1) == dev_labels)),
                                 "agree": float(np.mean(probs.argmax(-1) == keras_probs.argmax(-1))),
                                 "max_dp": float(np.max(np.abs(probs - keras_probs)))}
        print(key, accuracy[MODELS[key]], flush=True)
    record = {"classifier": args.classifier, "eval_seq": args.eval_seq, "calibration_rows": args.calibration_rows,
              "dev_rows": len(dev_labels), "accuracy": accuracy}
    atomic_write_text(cache / "accuracy.json", json.dumps(record, indent=1) + "\n")


# ------------------------------------------------------------ per-op profile
def _graph(flatbuffer: bytes):
    from ai_edge_litert.tools import flatbuffer_utils

    return flatbuffer_utils.read_model_from_bytearray(bytearray(flatbuffer))


def _cut(model, first: int, last: int) -> bytes:
    """A `.tflite` of ops [first, last) of `model` (a ModelT): the same tensors, quantization and
    weights; the activations they read from outside become its inputs, what they hand on its outputs."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    graph = model.subgraphs[0]
    ops = graph.operators[first:last]

    def constant(index: int) -> bool:
        data = model.buffers[graph.tensors[index].buffer].data
        return data is not None and len(data) > 0

    produced = [t for op in ops for t in op.outputs]
    later = {t for op in graph.operators[last:] for t in op.inputs} | set(graph.outputs)
    outputs = [t for t in produced if t in later] or list(ops[-1].outputs)
    inputs = [t for t in dict.fromkeys(t for op in ops for t in op.inputs)
              if t >= 0 and not constant(t) and t not in produced]
    tensors = list(dict.fromkeys(t for op in ops for t in [*op.inputs, *op.outputs, *(op.intermediates or [])]
                                 if t >= 0))
    remap = {t: i for i, t in enumerate(tensors)}
    remap[-1] = -1
    buffers = [schema.BufferT()]
    new_tensors = []
    for t in tensors:
        tensor = copy.copy(graph.tensors[t])
        if constant(t):
            buffers.append(model.buffers[tensor.buffer])
            tensor.buffer = len(buffers) - 1
        else:
            tensor.buffer = 0
        new_tensors.append(tensor)
    new_ops = []
    for op in ops:
        new_op = copy.copy(op)
        new_op.inputs = [remap[t] for t in op.inputs]
        new_op.outputs = [remap[t] for t in op.outputs]
        if op.intermediates:
            new_op.intermediates = [remap[t] for t in op.intermediates]
        new_ops.append(new_op)
    sub = schema.SubGraphT()
    sub.tensors, sub.operators = new_tensors, new_ops
    sub.inputs, sub.outputs = [remap[t] for t in inputs], [remap[t] for t in outputs]
    small = schema.ModelT()
    small.version, small.operatorCodes = model.version, model.operatorCodes
    small.subgraphs, small.buffers = [sub], buffers
    return bytes(flatbuffer_utils.convert_object_to_bytearray(small))


def _op_models(flatbuffer: bytes):
    """(op name, its activation inputs, count, one-op .tflite) for each kind of op in `flatbuffer`."""
    from ai_edge_litert import schema_py_generated as schema

    model = _graph(flatbuffer)
    graph = model.subgraphs[0]
    op_names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    type_names = {v: k.lower() for k, v in vars(schema.TensorType).items() if not k.startswith("_")}

    def constant(index: int) -> bool:
        data = model.buffers[graph.tensors[index].buffer].data
        return data is not None and len(data) > 0

    groups: dict[tuple, list[int]] = collections.OrderedDict()
    for index, op in enumerate(graph.operators):
        code = model.operatorCodes[op.opcodeIndex]
        name = op_names[max(code.builtinCode, code.deprecatedBuiltinCode)]
        inputs = " x ".join(f"{type_names[graph.tensors[t].type]}{list(graph.tensors[t].shape)}"
                            for t in op.inputs if t >= 0 and not constant(t))
        groups.setdefault((name, inputs), []).append(index)
    for (name, inputs), indices in groups.items():
        yield name, inputs, len(indices), _cut(model, indices[0], indices[0] + 1)


def _middle_layer(flatbuffer: bytes) -> tuple[str, bytes, int]:
    """(scope, .tflite, op count) of the middle transformer layer: every op between the first and the
    last whose output is named in that layer's scope (`group_G_layer_I_K/`)."""
    model = _graph(flatbuffer)
    graph = model.subgraphs[0]
    scopes: dict[str, list[int]] = collections.OrderedDict()
    for index, op in enumerate(graph.operators):
        for t in op.outputs:
            match = re.search(r"group_\d+_layer_\d+(_\d+)?/", graph.tensors[t].name.decode("utf-8"))
            if match:
                scopes.setdefault(match.group(0), []).append(index)
    scope = list(scopes)[len(scopes) // 2]
    first, last = scopes[scope][0], scopes[scope][-1] + 1
    return scope, _cut(model, first, last), last - first


def _time_one_op(flatbuffer: bytes, delegate: bool, threads: int, runs: int) -> tuple[float, bool]:
    """(median ms of `invoke`, whether XNNPACK took the op)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if delegate else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interpreter = Interpreter(model_content=flatbuffer, num_threads=threads, experimental_op_resolver_type=resolver)
    interpreter.allocate_tensors()
    delegated = interpreter._interpreter.NumNodes() > 1  # the op plus the delegate node that replaced it
    rng = np.random.default_rng(0)
    for detail in interpreter.get_input_details():
        dtype, shape = detail["dtype"], detail["shape"]
        if dtype == np.float32:
            value = rng.standard_normal(shape).astype(np.float32)
        elif dtype == np.int8:
            value = rng.integers(-100, 100, shape).astype(np.int8)
        else:  # ids, indices, masks: small valid values
            value = np.zeros(shape, dtype)
        interpreter.set_tensor(detail["index"], value)
    for _ in range(5):
        interpreter.invoke()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        interpreter.invoke()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), delegated


def profile(flatbuffer: bytes, threads: int, runs: int) -> list[dict]:
    rows = []
    for name, inputs, count, one_op in _op_models(flatbuffer):
        as_run, delegated = _time_one_op(one_op, True, threads, runs)
        builtin, _ = _time_one_op(one_op, False, threads, runs)
        rows.append({"op": name, "inputs": inputs, "count": count, "xnnpack": delegated, "ms": as_run,
                     "builtin_ms": builtin, "total_ms": count * as_run})
    return sorted(rows, key=lambda row: -row["total_ms"])


# ------------------------------------------------------------------- latency
def whole_model_latency(paths: dict[str, pathlib.Path], threads: int, rounds: int) -> dict[str, dict]:
    from ai_edge_litert.interpreter import Interpreter

    runners = {}
    for key, path in paths.items():
        interpreter = Interpreter(model_path=str(path), num_threads=threads)
        runner = interpreter.get_signature_runner("serving_default")
        rng = np.random.default_rng(0)
        ids = rng.integers(5, 30000, (1, SEQ)).astype(np.int32)
        inputs = {"input_word_ids": ids, "input_mask": np.ones((1, SEQ), np.int32),
                  "input_type_ids": np.zeros((1, SEQ), np.int32)}
        for _ in range(3):
            runner(**inputs)
        partitions = sum(op["op_name"] == "DELEGATE" for op in interpreter._get_ops_details())
        runners[key] = (interpreter, runner, inputs, partitions)
    times: dict[str, list[float]] = {key: [] for key in paths}
    for _ in range(rounds):
        for key, (_, runner, inputs, _) in runners.items():
            for _ in range(5):
                start = time.perf_counter()
                runner(**inputs)
                times[key].append((time.perf_counter() - start) * 1e3)
    return {key: {"median_ms": statistics.median(times[key]), "min_ms": min(times[key]),
                  "xnnpack_partitions": runners[key][3]} for key in paths}


# -------------------------------------------------------------------- report
def report(record: dict, command: str) -> str:
    acc = record["accuracy"]
    latency = record["latency"]
    lines = [
        "# Full int8 on CPU: per-op profile and the CPU recipe",
        "",
        f"`{command}` ({record['seconds']:.0f} s) on {record['machine']}, {record['threads']} threads, "
        f"1-minute load average {record['load'][0]:.1f} at the start and {record['load'][1]:.1f} at the end "
        "(2 cores shared with other jobs). Latency: `[1, 128]`, `ai_edge_litert` Interpreter (XNNPACK), models "
        f"interleaved in {record['rounds']} rounds of 5 calls, median. Accuracy: albert_tiny SST-2 classifier "
        f"`{acc['classifier']}`, all {acc['dev_rows']} dev rows at length {acc['eval_seq']}; int8 calibrated on "
        f"the first {acc['calibration_rows']} SST-2 train sentences. \"before\": benchmarks/results/export.md "
        "(`python benchmarks/export_sizes.py`, load average 3-4).",
        "",
        "## Whole model",
        "",
        "| model | format | size (MB) | before (ms) | now (ms) | now / dynamic int8 | XNNPACK partitions | "
        "floor: its FULLY_CONNECTED ops alone (ms) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ("base", "tiny"):
        dynamic = latency[name]["dynamic"]["median_ms"]
        for key, label in MODELS.items():
            row = latency[name][key]
            before = BEFORE.get((name, key))
            floor = row.get("fc_floor_ms")
            lines.append(
                f"| {'albert_base (random)' if name == 'base' else 'albert_tiny (SST-2)'} | {label} | "
                f"{row['size'] / 1e6:.2f} | {f'{before:.2f}' if before else '-'} | {row['median_ms']:.2f} | "
                f"{row['median_ms'] / dynamic:.2f} | {row['xnnpack_partitions']} | "
                f"{f'{floor:.2f}' if floor is not None else '-'} |")
    layer = record["layer"]
    lines += [
        "", "## One encoder layer, cut out", "",
        f"The middle layer of albert_base (`{layer['dynamic']['scope']}`: every op from its first to its last, "
        "weights and quantization as in the model) timed alone, median of 3 interleaved medians of "
        f"{record['op_runs']} calls. Its weights stay hot in cache, unlike in the 12-layer model.",
        "", "| format | ops | ms | ms / dynamic int8 |", "|---|---:|---:|---:|",
    ]
    for key, label in MODELS.items():
        lines.append(f"| {label} | {layer[key]['ops']} | {layer[key]['ms']:.3f} | "
                     f"{layer[key]['ms'] / layer['dynamic']['ms']:.2f} |")
    lines += ["", "## SST-2 dev accuracy (albert_tiny)", "",
              "| format | accuracy | points below Keras fp32 | argmax agreement | max \\|Δp\\| |",
              "|---|---:|---:|---:|---:|"]
    keras_acc = acc["accuracy"]["Keras fp32"]["acc"]
    for label, row in acc["accuracy"].items():
        lines.append(f"| {label} | {row['acc']:.2%} | {100 * (keras_acc - row['acc']):+.2f} | {row['agree']:.1%} | "
                     f"{row['max_dp']:.1e} |")
    for key in ("int8_all", "int8_cpu", "dynamic"):
        rows = record["profile"][key]
        total = sum(r["total_ms"] for r in rows)
        off = [r for r in rows if not r["xnnpack"]]
        lines += [
            "", f"## Per-op profile: albert_base, {MODELS[key]}", "",
            f"{len(rows)} kinds of op; isolated sum {total:.1f} ms, of which ops XNNPACK does not take "
            f"{sum(r['total_ms'] for r in off):.2f} ms ({', '.join(sorted({r['op'] for r in off})) or 'none'}).",
            "",
            "| op | activation inputs | count | XNNPACK | ms each (as run) | ms each (builtin kernels) | total ms |",
            "|---|---|---:|---|---:|---:|---:|",
        ]
        for r in rows[:14]:
            lines.append(f"| {r['op']} | {r['inputs']} | {r['count']} | {'yes' if r['xnnpack'] else '**no**'} | "
                         f"{r['ms']:.3f} | {r['builtin_ms']:.3f} | {r['total_ms']:.2f} |")
        rest = rows[14:]
        if rest:
            lines.append(f"| ({len(rest)} more kinds) | | {sum(r['count'] for r in rest)} | | | | "
                         f"{sum(r['total_ms'] for r in rest):.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classifier", required=True, help="a fine-tuned albert_tiny SST-2 classifier preset")
    parser.add_argument("--eval-seq", type=int, default=64)
    parser.add_argument("--calibration-rows", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--op-runs", type=int, default=30, help="timed invokes per isolated op")
    parser.add_argument("--cache-dir", default="/tmp/albert_int8_profile")
    parser.add_argument("--convert-only", action="store_true", help="convert and score, time nothing")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "int8_profile"))
    args = parser.parse_args()
    cache = pathlib.Path(args.cache_dir)
    paths = {name: {key: cache / f"{name}_{key}.tflite" for key in MODELS} for name in ("base", "tiny")}
    missing = not (cache / "accuracy.json").is_file() or not all(p.is_file() for d in paths.values()
                                                                   for p in d.values())
    if args.convert_only or missing:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        convert_all(args, cache)
        if args.convert_only:
            return
    from albert_tf.io_utils import atomic_write_text

    started, load_start = time.time(), os.getloadavg()[0]
    record = {"threads": args.threads, "rounds": args.rounds, "op_runs": args.op_runs,
              "machine": platform.processor() or platform.machine(),
              "accuracy": json.loads((cache / "accuracy.json").read_text()), "latency": {}, "profile": {}}
    for key in ("int8_all", "int8_cpu", "dynamic"):
        record["profile"][key] = profile(paths["base"][key].read_bytes(), args.threads, args.op_runs)
        print(f"profiled base {key}", flush=True)
    layers = {key: _middle_layer(paths["base"][key].read_bytes()) for key in MODELS}
    layer_times: dict[str, list[float]] = {key: [] for key in MODELS}
    for _ in range(3):  # interleaved, like the whole models
        for key, (_, cut, _) in layers.items():
            layer_times[key].append(_time_one_op(cut, True, args.threads, args.op_runs)[0])
    record["layer"] = {key: {"scope": scope, "ops": count, "ms": statistics.median(layer_times[key])}
                       for key, (scope, _, count) in layers.items()}
    for name in ("base", "tiny"):
        record["latency"][name] = whole_model_latency(paths[name], args.threads, args.rounds)
        for key, path in paths[name].items():
            record["latency"][name][key]["size"] = path.stat().st_size
    for key, rows in record["profile"].items():
        record["latency"]["base"][key]["fc_floor_ms"] = sum(r["total_ms"] for r in rows if r["op"] == "FULLY_CONNECTED")
    record["load"] = [load_start, os.getloadavg()[0]]
    record["seconds"] = time.time() - started
    command = f"python benchmarks/int8_profile.py --classifier {args.classifier}"
    text = report(record, command)
    out = pathlib.Path(args.output)
    atomic_write_text(out.with_suffix(".json"), json.dumps(record, indent=1) + "\n")
    atomic_write_text(out.with_suffix(".md"), text)
    print(text)


if __name__ == "__main__":
    main()
