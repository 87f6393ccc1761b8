"""The memory check before the first step: its estimate against a real step, and what it costs.

For each shipped recipe (or ``--recipes``), in a fresh child process each:
- ``estimate``: bytes per padded token as ``zoo.memory_estimate.bytes_per_token`` measures them
  (on the CPU: what autograd saves, times ``CPU_BACKWARD_FACTOR``);
- ``measured``: the growth of the process's peak resident memory over one real training step
  (forward, backward, optimizer) of ``--reviews`` made-up reviews of 500 and of 1,500 tokens,
  per token of the difference (so that what does not grow with the batch drops out);
- ``check ms``: the wall and CPU time of ``check_training_memory`` (median of 4 calls after the
  first, which is shown apart: it includes oneDNN compiling the kernel for the probe's shape).

    python benchmarks/memory_estimate.py
    python benchmarks/memory_estimate.py --recipes imdb-lstm imdb-gru --shards 1 --reviews 32
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time


def step_growth(recipe: str, reviews: int, tokens: int, shards: str) -> dict:
    """One training step in this process: peak RSS growth, and the check's estimate and cost."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    from zoo.memory import own_process
    from zoo.memory_estimate import bytes_per_token, check_training_memory
    from zoo.model import build_model
    from zoo.parallel import batch_shards, resolve_shards
    from zoo.spec import load_spec
    from zoo.trainer import make_optimizer

    own_process()
    spec = load_spec(recipe, [f"train.cpu_shards={shards}"])
    torch.manual_seed(0)
    model = build_model(spec.model, vocab_size=68_291)
    optimizer = make_optimizer(spec.train.optimizer, model.parameters())
    lengths = np.full(20_000, 2_505)
    timings, cpu = [], []
    for _ in range(5):
        tick, cpu_tick = time.perf_counter(), time.process_time()
        check_training_memory(model, spec, lengths, torch.device("cpu"))
        timings.append((time.perf_counter() - tick) * 1000)
        cpu.append((time.process_time() - cpu_tick) * 1000)
    estimate = bytes_per_token(model, torch.device("cpu"))

    def step(b: int, t: int) -> None:
        ids = (torch.arange(b * t) % 68_000 + 1).view(b, t)
        with batch_shards(resolve_shards(spec.train.cpu_shards, torch.device("cpu"))):
            loss = F.binary_cross_entropy_with_logits(model(ids, torch.full((b,), t)), torch.ones(b))
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

    step(2, 8)  # optimizer state, thread pools
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    step(reviews, tokens)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"growth": after - before, "estimate": estimate, "first_ms": timings[0],
            "check_ms": statistics.median(timings[1:]), "first_cpu_ms": cpu[0], "check_cpu_ms": statistics.median(cpu[1:])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", nargs="+", default=["imdb-lstm", "imdb-gru", "imdb-rnn", "imdb-bilstm", "imdb-best"])
    parser.add_argument("--reviews", type=int, default=64)
    parser.add_argument("--shards", default="1", help="train.cpu_shards of the measured step (1: whole)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        recipe, reviews, tokens, shards = args.child
        print(json.dumps(step_growth(recipe, int(reviews), int(tokens), shards)))
        return
    print("| recipe | estimate B/token | measured B/token | measured / estimate | check ms, wall (first) | CPU (first) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for recipe in args.recipes:
        runs = {}
        for tokens in (500, 1500):
            out = subprocess.run([sys.executable, __file__, "--child", recipe, str(args.reviews), str(tokens), args.shards],
                                 capture_output=True, text=True, check=True).stdout
            runs[tokens] = json.loads(out)
        measured = (runs[1500]["growth"] - runs[500]["growth"]) / (args.reviews * 1000)
        estimate = runs[500]["estimate"]
        print(f"| {recipe} | {estimate:,.0f} | {measured:,.0f} | {measured / estimate:.2f} | "
              f"{runs[500]['check_ms']:.0f} ({runs[500]['first_ms']:.0f}) | "
              f"{runs[500]['check_cpu_ms']:.0f} ({runs[500]['first_cpu_ms']:.0f}) |")


if __name__ == "__main__":
    main()
