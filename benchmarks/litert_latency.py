"""On-device latency on real sentences: fixed `[1, 128]` vs length-adaptive `[1, n]` LiteRT models.

A phone classifies sentences of 10 to 40 tokens; the fixed-length model runs
128 positions whatever the sentence. This benchmark runs SST-2 dev sentences
(tokenized with the real 30k `spiece.model`) through, per quantization (fp32,
dynamic-range int8):

* `fixed-128` (the peer: what MediaPipe's TextClassifier runs, and what every
  export ran before): each sentence packed and padded to 128;
* `adaptive` (ours): one `[1, -1]` model fed exactly the n real tokens,
  resized per sentence by the signature runner (ResizeInputTensor +
  AllocateTensors on every call whose length differs from the last, as
  Android's `runSignature` does);
* `buckets` (the alternative): one file with a signature per length in
  --buckets (weights shared), each sentence padded to the smallest bucket
  that holds it; no resize;
* `adaptive, no resize` (the floor): the adaptive model run a second time at
  the same length, so the call pays no resize or allocation: its compute at
  exactly n tokens. adaptive minus this is the per-call resize cost.

Latency: `ai_edge_litert` (XNNPACK), --threads threads, one call per sentence
after --warmup calls, wall time of the signature-runner call (inputs set,
invoke, outputs read). Outputs: max |p - p_fixed| of the probabilities and of
the logit difference log(p1/p0) over the timed sentences.

Models: classifiers (2 labels) with random weights for each --configs preset
(latency does not depend on the weights; the equality check does not need
trained ones). Time it alone, under the exclusive lock:

    flock -x /tmp/albert-cpu.lock .venv/bin/python benchmarks/litert_latency.py \\
        --configs albert_base tiny --rows 200

Converted models are cached under --cache-dir (convert first with
`--convert-only` under `flock -s`, so the exclusive run only times).
Writes benchmarks/results/litert_latency.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the top-level `export` package, also without a reinstall
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from albert_tf import AlbertConfig, AlbertTokenizer  # noqa: E402
from albert_tf.backbone import INPUT_NAMES, AlbertBackbone  # noqa: E402
from albert_tf.export.heads import serving_outputs  # noqa: E402
from albert_tf.export.representative_data import read_texts  # noqa: E402
from albert_tf.export.tflite import convert_ids_model, make_interpreter  # noqa: E402

DATA = pathlib.Path(os.environ.get("ALBERT_SHARED_DATA", ROOT.parent / "shared" / "data"))
SEQ = 128
QUANTIZATIONS = {"none": "fp32", "dynamic": "dynamic int8"}
OLD_FIGURES = {  # docs/export-and-serving.md before this benchmark: base, [1, 128], 2 threads, median
    ("albert_base", "none"): 224.23, ("albert_base", "dynamic"): 70.04,
    ("tiny", "none"): 3.96, ("tiny", "dynamic"): 1.39,
}


def classifier(preset: str, seed: int) -> keras.Model:
    from albert_tf.tasks import AlbertClassifier

    keras.utils.set_random_seed(seed)
    config = AlbertConfig.from_preset(preset)
    return AlbertClassifier(AlbertBackbone(config), num_classes=2, dropout=0.0)


def convert_buckets(model: keras.Model, lengths: list[int], quantize: str) -> bytes:
    """One `.tflite` with a `len<L>` signature per bucket length (the converter shares their weights)."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    functions = []
    for length in lengths:
        specs = [tf.TensorSpec([1, length], tf.int32, name=name) for name in INPUT_NAMES]

        def forward(input_word_ids, input_mask, input_type_ids):
            inputs = dict(input_word_ids=input_word_ids, input_mask=input_mask, input_type_ids=input_type_ids)
            return [serving_outputs(model, "classifier", inputs)["probabilities"]]

        concrete = tf.function(forward, input_signature=specs, autograph=False).get_concrete_function()
        frozen = convert_variables_to_constants_v2(concrete, lower_control_flow=False)

        def named(*tensors, frozen=frozen):
            return {"probabilities": frozen(**dict(zip(INPUT_NAMES, tensors)))[0]}

        named.__name__ = f"len{length}"  # the signature key
        functions.append(tf.function(named, input_signature=specs, autograph=False).get_concrete_function())
    converter = tf.lite.TFLiteConverter.from_concrete_functions(functions, tf.Module())
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return converter.convert()


def cached(path: pathlib.Path, build) -> bytes:
    if not path.is_file():
        data = build()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return path.read_bytes()


def models_for(preset: str, cache: pathlib.Path, buckets: list[int], seed: int) -> dict:
    model = None
    out = {}
    for quantize in QUANTIZATIONS:
        def build(kind):
            nonlocal model
            if model is None:
                model = classifier(preset, seed)
            if kind == "fixed":
                return convert_ids_model(model, SEQ, quantize, kind="classifier")
            if kind == "adaptive":
                return convert_ids_model(model, SEQ, quantize, kind="classifier", length_adaptive=True)
            return convert_buckets(model, buckets, quantize)

        tag = f"{preset}-seed{seed}-{quantize}"
        out[quantize] = {
            "fixed": cached(cache / f"{tag}-fixed{SEQ}.tflite", lambda: build("fixed")),
            "adaptive": cached(cache / f"{tag}-adaptive.tflite", lambda: build("adaptive")),
            "buckets": cached(cache / f"{tag}-buckets{'-'.join(map(str, buckets))}.tflite",
                              lambda: build("buckets")),
        }
    return out


def packed(ids: list[int], length: int) -> dict[str, np.ndarray]:
    n = len(ids)
    word = np.zeros((1, length), np.int32)
    word[0, :n] = ids
    mask = np.zeros((1, length), np.int32)
    mask[0, :n] = 1
    return {"input_word_ids": word, "input_mask": mask, "input_type_ids": np.zeros((1, length), np.int32)}


def timed(runner, feeds: dict) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    out = runner(**feeds)
    return (time.perf_counter() - start) * 1e3, out["probabilities"][0].copy()


def measure(flatbuffers: dict, sentences: list[list[int]], buckets: list[int], threads: int,
            warmup: int, fp32_reference: np.ndarray | None) -> tuple[dict, np.ndarray]:
    """Times every variant over `sentences`; returns the figures and the fixed-128 probabilities."""
    fixed = make_interpreter(flatbuffers["fixed"], threads).get_signature_runner("serving_default")
    adaptive = make_interpreter(flatbuffers["adaptive"], threads).get_signature_runner("serving_default")
    bucket_interpreter = make_interpreter(flatbuffers["buckets"], threads)
    bucket_runners = {b: bucket_interpreter.get_signature_runner(f"len{b}") for b in buckets}
    for ids in sentences[:warmup]:  # warm-up: every runner and every bucket once
        fixed(**packed(ids, SEQ))
        adaptive(**packed(ids, len(ids)))
    for b, runner in bucket_runners.items():
        runner(**packed(sentences[0][:b], b))
    times = {"fixed-128": [], "adaptive": [], "buckets": [], "adaptive, no resize": []}
    probs = {name: [] for name in times}
    for name in ("fixed-128", "adaptive", "buckets"):
        for ids in sentences:
            if name == "fixed-128":
                ms, p = timed(fixed, packed(ids, SEQ))
            elif name == "adaptive":
                # The previous call ran another sentence: this call resizes whenever the length differs.
                ms, p = timed(adaptive, packed(ids, len(ids)))
            else:
                bucket = min(b for b in buckets if b >= len(ids))
                ms, p = timed(bucket_runners[bucket], packed(ids, bucket))
            times[name].append(ms)
            probs[name].append(p)
    for ids in sentences:  # floor: same length as the call before, so no resize and no allocation
        adaptive(**packed(ids, len(ids)))
        ms, p = timed(adaptive, packed(ids, len(ids)))
        times["adaptive, no resize"].append(ms)
        probs["adaptive, no resize"].append(p)
    changed = sum(len(a) != len(b) for a, b in zip(sentences, sentences[1:])) + 1
    result = {"resizes": changed, "variants": {}}
    reference = np.asarray(probs["fixed-128"], np.float64)
    for name in times:
        got = np.asarray(probs[name], np.float64)
        logit_gap = np.log(got[:, 1] / got[:, 0]) - np.log(reference[:, 1] / reference[:, 0])
        result["variants"][name] = {
            "mean_ms": statistics.fmean(times[name]), "median_ms": statistics.median(times[name]),
            "max_abs_diff_probabilities": float(np.max(np.abs(got - reference))),
            "max_abs_diff_logit_gap": float(np.max(np.abs(logit_gap))),
        }
        if fp32_reference is not None:  # the quantization error, for scale
            result["variants"][name]["max_abs_diff_vs_fp32_fixed"] = float(np.max(np.abs(got - fp32_reference)))
    return result, reference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["albert_base", "tiny"])
    parser.add_argument("--rows", type=int, default=200, help="SST-2 dev sentences (every k-th of 872)")
    parser.add_argument("--buckets", type=int, nargs="+", default=[16, 32, 64, 128])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", default="/tmp/albert-litert-latency")
    parser.add_argument("--convert-only", action="store_true")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "litert_latency"))
    args = parser.parse_args()
    if args.buckets[-1] != SEQ or sorted(args.buckets) != args.buckets:
        parser.error(f"--buckets must be increasing and end at {SEQ}")

    tokenizer = AlbertTokenizer(DATA / "albert" / "spiece.model")
    texts = read_texts(DATA / "glue" / "SST-2" / "dev.tsv")
    step = max(1, len(texts) // args.rows)
    chosen = texts[::step][:args.rows]
    sentences = [[tokenizer.cls_id] + tokenizer.encode(t)[:SEQ - 2] + [tokenizer.sep_id] for t in chosen]
    lengths = np.asarray([len(s) for s in sentences])
    cache = pathlib.Path(args.cache_dir)
    load = os.getloadavg()[0]
    results = {"command": " ".join(["python benchmarks/litert_latency.py"] + sys.argv[1:]),
               "rows": len(sentences), "of": len(texts), "step": step, "threads": args.threads,
               "buckets": args.buckets, "mean_tokens": float(lengths.mean()),
               "median_tokens": float(np.median(lengths)), "max_tokens": int(lengths.max()),
               "machine": f"{platform.machine()}, {os.cpu_count()} cores", "load_before": load, "models": {}}
    for preset in args.configs:
        flatbuffers = models_for(preset, cache, args.buckets, args.seed)
        if args.convert_only:
            continue
        fp32_reference = None
        for quantize, files in flatbuffers.items():  # "none" first: its probabilities are the reference
            entry, probabilities = measure(files, sentences, args.buckets, args.threads, args.warmup, fp32_reference)
            if quantize == "none":
                fp32_reference = probabilities
            entry["bytes"] = {name: len(data) for name, data in files.items()}
            results["models"][f"{preset}/{quantize}"] = entry
            for name, row in entry["variants"].items():
                print(f"{preset:12s} {QUANTIZATIONS[quantize]:13s} {name:20s} mean {row['mean_ms']:8.2f} ms "
                      f"median {row['median_ms']:8.2f} ms  max|dp| {row['max_abs_diff_probabilities']:.1e}",
                      flush=True)
    if args.convert_only:
        return
    results["load_after"] = os.getloadavg()[0]
    out = pathlib.Path(args.output)
    out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    out.with_suffix(".md").write_text(report(results))
    print(f"wrote {out.with_suffix('.md')}")


def report(r: dict) -> str:
    lines = [
        "# LiteRT latency on real sentences: fixed [1, 128] vs length-adaptive",
        "",
        f"Command: `{r['command']}`. Written by `benchmarks/litert_latency.py`.",
        "",
        f"SST-2 dev sentences: {r['rows']} of {r['of']} (every {r['step']}th row), tokenized with the real 30k",
        f"`spiece.model`: mean {r['mean_tokens']:.1f} tokens with [CLS]/[SEP], median {r['median_tokens']:.0f}, "
        f"max {r['max_tokens']}. Classifiers with random weights (2 labels); `ai_edge_litert` (XNNPACK),",
        f"{r['threads']} threads, batch 1, one call per sentence after warm-up; {r['machine']}; load average "
        f"{r['load_before']:.2f} before, {r['load_after']:.2f} after.",
        "",
        "* fixed-128: the peer (MediaPipe's model, and every export before): padded to 128.",
        "* adaptive: one `[1, -1]` model fed the n real tokens, resized by the signature runner per call.",
        f"* buckets: one file with signatures for lengths {r['buckets']} (shared weights), smallest bucket >= n.",
        "* adaptive, no resize: the floor: the adaptive model at the same n as the call before (compute only).",
        "",
        "Max |Δ| is against fixed-128 of the same quantization on the same sentences: of the probabilities,",
        "and of the logit gap log(p1/p0) (the logits up to a constant). For dynamic int8, the last column is",
        "against fp32 fixed-128: the quantization error, for scale. Resizes: calls whose length differed from",
        "the call before (the adaptive pass resized on "
        + ", ".join(f"{e['resizes']}" for e in list(r["models"].values())[:1]) + f" of {r['rows']} calls).",
        "",
        "| model | quantization | variant | file MB | mean ms | median ms | mean / fixed-128 | max \\|Δp\\| "
        "| max \\|Δ logit gap\\| | max \\|Δp\\| vs fp32 |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, entry in r["models"].items():
        preset, quantize = key.split("/")
        base = entry["variants"]["fixed-128"]["mean_ms"]
        for name, row in entry["variants"].items():
            file = {"fixed-128": "fixed", "adaptive": "adaptive", "buckets": "buckets",
                    "adaptive, no resize": "adaptive"}[name]
            lines.append(
                f"| {preset} | {QUANTIZATIONS[quantize]} | {name} | {entry['bytes'][file] / 1e6:.2f} | "
                f"{row['mean_ms']:.2f} | {row['median_ms']:.2f} | {row['mean_ms'] / base:.2f} | "
                f"{row['max_abs_diff_probabilities']:.1e} | {row['max_abs_diff_logit_gap']:.1e} | "
                f"{row.get('max_abs_diff_vs_fp32_fixed', row['max_abs_diff_probabilities']):.1e} |")
    lines += ["", "Earlier figures (docs/export-and-serving.md, `benchmarks/export_sizes.py`: [1, 128], median of",
              "repeated calls on one input, another run and load):", ""]
    for (preset, quantize), ms in OLD_FIGURES.items():
        lines.append(f"* {preset} {QUANTIZATIONS[quantize]}: {ms} ms")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
