"""Pretraining-data creation speed: `albert create-data` with 1 and 2 workers, beside the original script.

All run as whole processes on the same text (one sentence per line, a blank
line between documents), with the same settings (seq 128, 20 predictions,
dupe factor 5, 16 documents per shard, the real ALBERT vocabulary). The
Wikipedia excerpt is first extracted to such text with albert_tf's reader
(not timed here; `--text` reuses an extracted file), because the original
script reads only text.

Each run is timed twice: the whole process (wall, what a user waits), and
inside it from the end of `import albert_tf` (which loads TensorFlow, ~4 s
that a second worker cannot share) to the end of the command ("after
start-up"). The speed-up of 2 workers is the ratio of the medians. Within
each repeat 1 worker, 2 workers and two 1-worker jobs started together take
turns (so drift in the machine's speed moves all alike); the pair, against
one job alone, is the machine's ceiling for 2 processes. Every
run's `part-*.tfrecord` files are hashed: 1 and 2 workers must give the
same bytes; the code before this change (`--before-src`) gives the same
bytes too unless its random streams differ (see `random_streams` in
`metadata.json`).

Optional peers, neither part of this project:

* `--before-src DIR`: an earlier albert_tf, e.g.
  `mkdir DIR && git archive 7340e0a albert_tf | tar -x -C DIR` (the commit
  before the TensorFlow-free workers), timed the same way;
* `--original-repo`: a checkout of google-research/albert, whose
  `create_pretraining_data.py` runs under TF 2.20 once `tensorflow_hub`
  (imported but unused with a SentencePiece vocabulary) resolves: give
  `--original-pythonpath` a folder with an empty `tensorflow_hub.py`.

Usage (times under the machine's exclusive CPU lock):
    flock -x /tmp/albert-cpu.lock python benchmarks/create_data.py \\
        [--repeats 7] [--dupe-factor 20 | --documents-per-shard 4] [--output OTHER.md] [--text corpus.txt] \\
        [--before-src DIR] [--original-repo ../peers/albert --original-pythonpath ../peers/shim]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import pathlib
import shlex
import statistics
import struct
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "data" / "corpus" / (
    "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2")
DEFAULT_SPM = ROOT.parent / "shared" / "data" / "albert" / "spiece.model"
RESULTS = ROOT / "benchmarks" / "results" / "create_data.md"
# The workload: 7 units of 16 documents on the excerpt. `--dupe-factor` scales the work per
# unit; `--documents-per-shard` cuts more, smaller units (a real corpus has thousands).
SETTINGS = dict(max_seq_length=128, max_predictions_per_seq=20, dupe_factor=5, documents_per_shard=16)
# Runs `albert` in this process, timing what follows `import albert_tf` (TensorFlow).
DRIVER = """\
import json, resource, sys, time
def cpu(who):
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime
start = time.perf_counter()
from albert_tf.cli.main import main
imported, imported_cpu = time.perf_counter(), cpu(resource.RUSAGE_SELF)
code = main(sys.argv[2:])
json.dump({"import_s": imported - start, "after_import_s": time.perf_counter() - imported,
           "cpu_after_import_s": cpu(resource.RUSAGE_SELF) - imported_cpu,
           "workers_cpu_s": cpu(resource.RUSAGE_CHILDREN),
           "albert_tf": sys.modules["albert_tf"].__file__}, open(sys.argv[1], "w"))
sys.exit(code)
"""


# Starts one worker process as `create-data --num-workers 2` does and times its first answer.
WORKER_START = """\
import json, sys, time
from albert_tf.data.create_pretraining_data import PretrainingDataConfig, _WorkerState
from albert_tf.data.worker_pool import LightProcessPool
seconds = []
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    with LightProcessPool(1, _WorkerState.create, (sys.argv[1], PretrainingDataConfig())) as pool:
        pool.loaded_modules()
        seconds.append(time.perf_counter() - start)
print(json.dumps(seconds))
"""


def worker_start_seconds(source: pathlib.Path, spm_model, env, repeats: int) -> float:
    """Median seconds from starting a data worker to its first answer (vocabulary loaded)."""
    output = subprocess.run([sys.executable, "-c", WORKER_START, str(spm_model), str(repeats)], check=True,
                            cwd=source, env=env, stdout=subprocess.PIPE, text=True).stdout
    return statistics.median(json.loads(output.strip().splitlines()[-1]))


def count_records(paths) -> int:
    """Records in TFRecord files, by walking their length fields (no TensorFlow)."""
    count = 0
    for path in paths:
        data = pathlib.Path(path).read_bytes()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack_from("<Q", data, offset)
            offset += 12 + length + 4
            count += 1
    return count


def digest(paths) -> str:
    sha = hashlib.sha256()
    for path in paths:
        sha.update(path.name.encode() + b"\0" + path.read_bytes())
    return sha.hexdigest()


def run_ours(source: pathlib.Path, text, spm_model, output, workers, env, settings):
    timing = output.with_suffix(".json")
    command = [sys.executable, "-c", DRIVER, str(timing), "create-data", "--input", str(text),
               "--spm-model", str(spm_model), "--output-dir", str(output), "--no-progress",
               "--num-workers", str(workers)]
    for name, value in settings.items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=source, env=env, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    inside = json.loads(timing.read_text())
    if not pathlib.Path(inside["albert_tf"]).resolve().is_relative_to(source.resolve()):
        raise RuntimeError(f"{source}: the run imported albert_tf from {inside['albert_tf']}")
    shards = sorted(output.glob("part-*.tfrecord"))
    examples = json.loads((output / "stats-000-of-001.json").read_text())["examples"]
    # The share of the run's cores that this process and its workers kept busy after start-up.
    busy = (inside["cpu_after_import_s"] + inside["workers_cpu_s"]) / (workers * inside["after_import_s"])
    return wall, inside["after_import_s"], inside["import_s"], examples, digest(shards), busy


def measure(name, source, text, spm_model, work, repeats, env, settings, pair=False):
    """{workers: row} for one albert_tf source tree, and with `pair` the median after-start-up seconds of two
    1-worker jobs started together (else None).

    The configurations take turns within each repeat, so that a machine that speeds up or slows down
    during the run moves all of them alike (the ratios compare like with like).

    Two 1-worker jobs at once, against one alone, show the machine's own limit on 2 processes (shared
    caches, memory bandwidth, neighbours on a shared host): the most 2 workers could give, measured in
    the same run.
    """
    runs = {1: [], 2: []}
    paired = []
    for repeat in range(repeats):
        for workers in (1, 2):
            runs[workers].append(run_ours(source, text, spm_model, work / f"{name}-{workers}-{repeat}", workers, env,
                                          settings))
        if pair:
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                both = list(pool.map(lambda index: run_ours(source, text, spm_model,
                                                            work / f"{name}-pair-{repeat}-{index}", 1, env, settings),
                                     range(2)))
            paired += [run[1] for run in both]
    rows = {}
    for workers in (1, 2):
        digests = {run[4] for run in runs[workers]}
        rows[workers] = dict(
            wall=statistics.median(run[0] for run in runs[workers]),
            after_startup=statistics.median(run[1] for run in runs[workers]),
            startup=statistics.median(run[2] for run in runs[workers]),
            examples=runs[workers][0][3], digest=digests.pop() if len(digests) == 1 else "differ between runs",
            walls=[run[0] for run in runs[workers]],
            busy=statistics.median(run[5] for run in runs[workers]),
        )
        print(f"{name}, {workers} worker(s): wall {[round(run[0], 2) for run in runs[workers]]}, after start-up "
              f"{[round(run[1], 2) for run in runs[workers]]}", file=sys.stderr)
    if pair:
        print(f"{name}, two 1-worker jobs at once, after start-up: {[round(value, 2) for value in paired]}",
              file=sys.stderr)
    return rows, (statistics.median(paired) if pair else None)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--text", help="the corpus as text; extracted from --corpus when missing")
    parser.add_argument("--spm-model", default=str(DEFAULT_SPM))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dupe-factor", type=int, default=SETTINGS["dupe_factor"],
                        help="passes over the corpus: more work per unit, the same fixed start-up")
    parser.add_argument("--documents-per-shard", type=int, default=SETTINGS["documents_per_shard"],
                        help="documents per work unit: smaller units, a shorter wait for the last one")
    parser.add_argument("--before-src", help="folder holding an earlier albert_tf/ to time beside this one")
    parser.add_argument("--before-label", default="before", help="what --before-src is (e.g. a commit)")
    parser.add_argument("--original-repo", help="checkout of google-research/albert (optional)")
    parser.add_argument("--original-pythonpath", default="", help="extra PYTHONPATH for the original (stubs)")
    parser.add_argument("--original-repeats", type=int, default=3)
    parser.add_argument("--output", default=str(RESULTS), help="the Markdown results file")
    args = parser.parse_args()
    if min(args.repeats, args.dupe_factor, args.documents_per_shard) < 1:
        parser.exit(2, f"{parser.prog}: error: --repeats, --dupe-factor and --documents-per-shard must be >= 1\n")
    settings = dict(SETTINGS, dupe_factor=args.dupe_factor, documents_per_shard=args.documents_per_shard)

    work = pathlib.Path(tempfile.mkdtemp(prefix="albert-bench-"))
    text = pathlib.Path(args.text) if args.text else work / "corpus.txt"
    if not text.exists():
        sys.path.insert(0, str(ROOT))
        from albert_tf.data.documents import read_documents

        with open(text, "w", encoding="utf-8") as handle:
            for document in read_documents(args.corpus):
                handle.write("\n".join(document) + "\n\n")
    quiet = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    quiet.pop("PYTHONPATH", None)

    after, pair = measure("after", ROOT, text, args.spm_model, work, args.repeats, quiet, settings, pair=True)
    worker_start = worker_start_seconds(ROOT, args.spm_model, quiet, args.repeats)
    before = (measure("before", pathlib.Path(args.before_src), text, args.spm_model, work, args.repeats, quiet,
                      settings)[0]
              if args.before_src else None)

    original = None
    if args.original_repo:
        repo = pathlib.Path(args.original_repo).resolve()
        env = dict(quiet, PYTHONPATH=os.pathsep.join(filter(None, [args.original_pythonpath, str(repo.parent)])))
        seconds = []
        for repeat in range(args.original_repeats):
            output = work / f"original-{repeat}.tfrecord"
            start = time.perf_counter()
            subprocess.run([
                sys.executable, "-m", f"{repo.name}.create_pretraining_data", f"--input_file={text}",
                f"--output_file={output}", f"--spm_model_file={args.spm_model}", f"--vocab_file={args.spm_model}",
                f"--max_seq_length={settings['max_seq_length']}",
                f"--max_predictions_per_seq={settings['max_predictions_per_seq']}",
                f"--dupe_factor={settings['dupe_factor']}", "--do_lower_case=True",
            ], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=work)
            seconds.append(time.perf_counter() - start)
        original = (statistics.median(seconds), count_records([work / "original-0.tfrecord"]), args.original_repeats)

    report = render(args, settings, after, before, original, worker_start, pair)
    print(report)
    sys.path.insert(0, str(ROOT))
    from albert_tf.io_utils import atomic_write_text  # written aside and renamed, as the library's outputs

    atomic_write_text(args.output, report)


def render(args, settings, after, before, original, worker_start: float, pair: float) -> str:
    def cell(rows, workers, key, digits=1):
        return f"{rows[workers][key]:.{digits}f}" if rows else "-"

    def busy(rows):
        return f"{rows[2]['busy']:.1%}" if rows else "-"

    def speedup(rows, key):
        return f"{rows[1][key] / rows[2][key]:.2f}x" if rows else "-"

    label = args.before_label
    lines = [
        "# create-data: 1 worker vs 2 workers",
        "",
        f"Command: `python benchmarks/create_data.py --repeats {args.repeats}"
        + "".join(f" --{name.replace('_', '-')} {value}" for name, value in settings.items()
                  if value != SETTINGS[name]) +
        f"{' --before-src DIR --before-label ' + shlex.quote(label) if before else ''}"
        f"{' --original-repo ... --original-pythonpath ...' if original else ''}` "
        f"({os.cpu_count()} CPU cores).",
        "",
        f"Corpus: {pathlib.Path(args.corpus).name} as text; seq {settings['max_seq_length']}, "
        f"{settings['max_predictions_per_seq']} predictions, dupe factor {settings['dupe_factor']}, "
        f"{settings['documents_per_shard']} documents per shard. Median of {args.repeats} whole-process runs. "
        "*After start-up*: timed inside the process from the end of `import albert_tf` (TensorFlow, "
        f"median {after[1]['startup']:.1f} s) to the end of the command.",
        "",
        f"| seconds (median) | {label}: 1 worker | {label}: 2 workers | now: 1 worker | now: 2 workers |",
        "|---|---|---|---|---|",
        f"| wall (whole process) | {cell(before, 1, 'wall')} | {cell(before, 2, 'wall')} | "
        f"{cell(after, 1, 'wall')} | {cell(after, 2, 'wall')} |",
        f"| after start-up | {cell(before, 1, 'after_startup', 2)} | {cell(before, 2, 'after_startup', 2)} | "
        f"{cell(after, 1, 'after_startup', 2)} | {cell(after, 2, 'after_startup', 2)} |",
        "",
        f"| speed-up of 2 workers over 1 | {label} | now |",
        "|---|---|---|",
        f"| wall (whole process) | {speedup(before, 'wall')} | {speedup(after, 'wall')} |",
        f"| after start-up | {speedup(before, 'after_startup')} | {speedup(after, 'after_startup')} |",
        "| cores kept busy by 2 workers after start-up (CPU time of the process and its worker / "
        f"(2 x time), median) | {busy(before)} | {busy(after)} |",
        "",
        f"Examples: {after[1]['examples']:,}. Output bytes (sha256 over all shards): now, 1 worker "
        f"`{after[1]['digest'][:16]}`, 2 workers `{after[2]['digest'][:16]}`"
        + (f"; {label}, 1 worker `{before[1]['digest'][:16]}`, 2 workers `{before[2]['digest'][:16]}`"
           if before else "") + ".",
    ]
    for name, rows in (("Now", after), (label, before)):
        if rows:
            same = rows[1]["digest"] == rows[2]["digest"]
            lines.append(f"{name}: 1 and 2 workers {'identical' if same else '**differ**'}.")
    if before:
        # Equal unless the code before drew its examples from other random streams (metadata's
        # `random_streams`: one per unit before 2026-11-30, one per document since).
        lines.append(f"Now and {label}: {'identical' if before[1]['digest'] == after[1]['digest'] else 'other bytes'}.")
    lines += ["", f"A worker process answers its first request {worker_start:.2f} s after it is started "
              f"(median of {args.repeats}, nothing else running): work that 2 workers cannot split.",
              "", f"Two 1-worker jobs started together take {pair:.2f} s each after start-up (median of "
              f"{2 * args.repeats}) against {after[1]['after_startup']:.2f} s alone: this machine runs 2 "
              f"processes at {2 * after[1]['after_startup'] / pair:.2f}x one, the ceiling for 2 workers "
              f"(which reach {after[1]['after_startup'] / after[2]['after_startup']:.2f}x)."]
    if original:
        seconds, examples, repeats = original
        lines += [
            "",
            "| reference | wall s | examples | examples/s (wall) |",
            "|---|---|---|---|",
            f"| google-research create_pretraining_data.py (1 process, median of {repeats}) | {seconds:.1f} | "
            f"{examples:,} | {examples / seconds:,.0f} |",
            f"| albert_tf create-data now, 1 worker | {after[1]['wall']:.1f} | {after[1]['examples']:,} | "
            f"{after[1]['examples'] / after[1]['wall']:,.0f} |",
            f"| albert_tf create-data now, 2 workers | {after[2]['wall']:.1f} | {after[2]['examples']:,} | "
            f"{after[2]['examples'] / after[2]['wall']:,.0f} |",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
