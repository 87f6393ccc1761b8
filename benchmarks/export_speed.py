"""Reviews per second and process footprint of each way of running a run's model, on its test split.

Exports the run twice (ONNX, torch.export) into a temporary folder, writes the test reviews to a
file, then measures each engine in a process of its own (so each peak RSS is that engine's alone):

- ``torch eager``: ``zoo.load(RUN)`` (the run's checkpoint, torch, as ``zoo predict RUN`` runs it);
- ``torch.export``: ``zoo.runtime.load(EXPORT)`` of the ``--format torch`` export (``model.pt2``);
- ``ONNX Runtime, N threads``: ``zoo.runtime.load(EXPORT, threads=N)`` of the ONNX export (N
  single-threaded shards of each batch at once; no torch in that process).

Each process reads the reviews, then times *scoring* (token ids in: the model alone, batched by
length as zoo batches them) and *end to end* (texts in: tokenizing, vocabulary, batching, model,
probabilities), and reports its peak resident memory. The engines take turns, ``--rounds``
times, and each keeps its best times, so a busy spell on a shared machine does not fall on one
engine alone. The largest difference of probabilities from torch eager's is printed as a check.

    python benchmarks/export_speed.py runs/recipes/imdb-lstm
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENGINES = [("torch eager", "torch", None), ("torch.export", "program", None), ("ONNX Runtime", "onnx", 1),
           ("ONNX Runtime", "onnx", 2)]

#: Runs the worker, then prints its peak resident memory. Measured from this small process: a
#: child started straight from the large parent would count the parent's pages in its own peak.
MEASURE = """\
import resource, subprocess, sys
status = subprocess.call(sys.argv[1:])
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
sys.exit(status)
"""


def measure(kind: str, source: str, texts_file: str, threads: int | None, repeat: int, out: str) -> None:
    """One engine, in this process: times and peak RSS as JSON on stdout, probabilities to ``out``."""
    import numpy as np

    from zoo.data.encode import encode_texts

    texts = json.loads(Path(texts_file).read_text(encoding="utf-8"))
    if kind == "torch":
        import zoo
        from zoo.memory import own_process
        from zoo.trainer import predict_logits

        own_process()  # as the zoo command runs it: its memory settings and sharded recurrent layers
        model = zoo.load(source)

        def score(split):
            return predict_logits(model.model, split, model.batch_size, model.device, model.spec.data.max_length,
                                  shards=model.spec.train.cpu_shards)
    else:
        import zoo.runtime

        model = zoo.runtime.load(source, threads=threads, trust_program=True)  # programs this script made
        score = model.logits_of
    split = encode_texts(texts, model.tokenizer, model.vocab)
    timings = {"scoring": [], "end_to_end": []}
    for _ in range(repeat):
        start = time.perf_counter()
        score(split)
        timings["scoring"].append(time.perf_counter() - start)
        start = time.perf_counter()
        probabilities = model.probabilities(texts)
        timings["end_to_end"].append(time.perf_counter() - start)
    np.save(out, probabilities)
    print(json.dumps({"texts": len(texts), **{k: min(v) for k, v in timings.items()},
                      "torch_loaded": "torch" in sys.modules}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", help="a finished run directory")
    parser.add_argument("--repeat", type=int, default=1, help="passes per process and measure (default 1)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="processes per engine, started in turn with the others'; the best is kept (default 2)")
    parser.add_argument("--limit", type=int, help="only the first N test reviews (a quick look)")
    parser.add_argument("--worker", nargs=5, metavar=("KIND", "SOURCE", "TEXTS", "THREADS", "OUT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, source, texts, threads, out = args.worker
        measure(kind, source, texts, int(threads) or None, args.repeat, out)
        return
    if not args.run:
        parser.error("name a run directory")
    import numpy as np

    import zoo
    from zoo.data.cache import cache_dir
    from zoo.export.folder import export

    spec = zoo.load(args.run).spec
    raw = zoo.get_registry().build("dataset", spec.data.dataset).load(spec.data.source, cache_dir(), seed=spec.data.seed)
    texts = raw["test"].texts[: args.limit]
    with tempfile.TemporaryDirectory(prefix="zoo-export-speed-") as scratch:
        folder = Path(scratch)
        (folder / "texts.json").write_text(json.dumps(texts), encoding="utf-8")
        sources = {"torch": args.run}
        for kind, fmt in (("onnx", "onnx"), ("program", "torch")):
            started = time.perf_counter()
            done = export(args.run, folder / fmt, fmt)
            sources[kind] = str(folder / fmt)
            print(f"exported {fmt} in {time.perf_counter() - started:.0f} s (self-check: "
                  f"{done['self_check']['source']}, within {done['self_check']['max_difference']:.1g})",
                  file=sys.stderr)
        best: dict[tuple[str, int | None], dict] = {}
        for _ in range(args.rounds):  # engines in turn, round after round: a busy spell hits them all alike
            for name, kind, threads in ENGINES:
                out = folder / f"{kind}-{threads}.npy"
                result = subprocess.run([sys.executable, "-c", MEASURE, sys.executable, __file__, "--repeat",
                                         str(args.repeat), "--worker", kind, sources[kind], str(folder / "texts.json"),
                                         str(threads or 0), str(out)], capture_output=True, text=True, check=True)
                *_, line, peak = result.stdout.strip().splitlines()
                measured = {**json.loads(line), "peak_rss_mb": float(peak), "probabilities": np.load(out)}
                kept = best.setdefault((kind, threads), measured)
                for key in ("scoring", "end_to_end"):
                    kept[key] = min(kept[key], measured[key])
                kept["peak_rss_mb"] = max(kept["peak_rss_mb"], measured["peak_rss_mb"])
        reference = best[("torch", None)]["probabilities"]
        rows = [(name + (f", {threads} thread{'s' if threads > 1 else ''}" if threads else ""), best[(kind, threads)],
                 float(np.abs(best[(kind, threads)]["probabilities"] - reference).max()))
                for name, kind, threads in ENGINES]
    print(f"\n{len(texts):,} test reviews of {args.run}; best of {args.rounds} rounds of {args.repeat} passes\n")
    print("| engine | scoring (ids in), reviews/s | end to end (text in), reviews/s | peak RSS | torch imported | max \\|Δp\\| vs eager |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label, m, difference in rows:
        print(f"| {label} | {m['texts'] / m['scoring']:,.0f} | {m['texts'] / m['end_to_end']:,.0f} | "
              f"{m['peak_rss_mb']:,.0f} MB | {'yes' if m['torch_loaded'] else 'no'} | {difference:.1g} |")


if __name__ == "__main__":
    main()
