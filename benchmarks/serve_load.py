"""Load on ``zoo serve``: throughput and latency at concurrency 1, 8, 32 and 128, batching on and off.

    python benchmarks/serve_load.py runs/recipes/imdb-lstm [--requests 2000] [--json results.json]

For each setting (the defaults; ``--max-batch 1``: batching off; ``--workers 2``) the server is started
on loopback in its own process and warmed up; then, for each concurrency C, C clients on
keep-alive connections send ``--requests`` requests in all, one test-split review each (the
reviews in a fixed shuffled order, read from the run's data source with zoo's own data code,
never stored). Each row: requests/s (every answer, 503s included), reviews/s (answered with
200), p50/p95/p99 latency of the answered requests, 503s (load shed) and other errors.

The clients are one asyncio loop speaking minimal HTTP/1.1 on raw sockets, so that the load
generator takes as little of the machine's CPU from the server as it can. The same invocation
also times ``zoo predict RUN - --json`` on the 25,000 test reviews (end to end, as
``predict_throughput.py``) and ``zoo.load(RUN).predict`` in-process, for the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from statistics import quantiles

sys.path.insert(0, str(Path(__file__).parent))
from predict_throughput import offline_throughput, read_test_reviews  # noqa: E402

CONCURRENCY = (1, 8, 32, 128)
SETTINGS = {"batching (defaults)": [], "batching off (--max-batch 1)": ["--max-batch", "1"],
            "batching, 2 workers (--workers 2)": ["--workers", "2"]}
WARM_UP = 200
LENGTH = re.compile(rb"content-length: *(\d+)", re.I)


class Client:
    """One keep-alive HTTP/1.1 connection sending ``POST /predict`` bodies."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, body: bytes) -> tuple[int, bytes]:
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        writer.write(b"POST /predict HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (self.host.encode(), len(body), body))
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            payload = await reader.readexactly(int(LENGTH.search(head).group(1)))
        except (asyncio.IncompleteReadError, ConnectionError):
            self.close()
            return 0, b""
        if b"connection: close" in head.lower():
            self.close()
        return int(head[9:12]), payload

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


async def load(host: str, port: int, bodies: list[bytes], concurrency: int) -> dict:
    """Send every body once with ``concurrency`` clients; statuses and latencies."""
    pending = iter(bodies)
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def client_loop() -> None:
        client = Client(host, port)
        for body in pending:
            start = time.perf_counter()
            status, payload = await client.post(body)
            if status == 200 and payload.count(b'"label"') != 1:
                status = -1  # an answer that is not one prediction
            statuses[status] = statuses.get(status, 0) + 1
            if status == 200:
                latencies.append(time.perf_counter() - start)
        client.close()

    start = time.perf_counter()
    await asyncio.gather(*(client_loop() for _ in range(concurrency)))
    seconds = time.perf_counter() - start
    cuts = quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
    answered = statuses.get(200, 0)
    return {
        "concurrency": concurrency, "requests": len(bodies), "seconds": round(seconds, 3),
        "requests_per_s": round(len(bodies) / seconds, 1), "reviews_per_s": round(answered / seconds, 1),
        "p50_ms": round(1000 * cuts[49], 1), "p95_ms": round(1000 * cuts[94], 1), "p99_ms": round(1000 * cuts[98], 1),
        "answered": answered, "shed_503": statuses.get(503, 0),
        "errors": sum(n for status, n in statuses.items() if status not in (200, 503)),
    }


def start_server(run: str, extra: list[str]) -> tuple[subprocess.Popen, str, int]:
    process = subprocess.Popen([sys.executable, "-m", "zoo", "serve", run, "--port", "0", *extra],
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    line = process.stderr.readline().decode()
    found = re.search(r"http://([\d.]+):(\d+)", line)
    if not found:
        process.kill()
        raise SystemExit(f"the server did not start: {line}{process.stderr.read().decode()}")
    print(line.strip(), file=sys.stderr)
    return process, found.group(1), int(found.group(2))


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    if process.wait(60) != 0:
        raise SystemExit(f"zoo serve exited {process.returncode}: {process.stderr.read().decode()}")


def in_process_throughput(run: str, texts: list[str]) -> float:
    import zoo

    classifier = zoo.load(run)
    start = time.perf_counter()
    classifier.predict(texts)
    return len(texts) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a trained run directory")
    parser.add_argument("--requests", type=int, default=2000, help="requests per row (default: 2000)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    reviews = read_test_reviews(args.run)
    order = random.Random(0).sample(range(len(reviews)), len(reviews))
    bodies = [json.dumps({"texts": [reviews[i]]}).encode() for i in order]

    rows = []
    for setting, extra in SETTINGS.items():
        process, host, port = start_server(args.run, extra)
        try:
            asyncio.run(load(host, port, bodies[-WARM_UP:], 8))
            for concurrency in CONCURRENCY:
                row = {"setting": setting, **asyncio.run(load(host, port, bodies[: args.requests], concurrency))}
                print(json.dumps(row), file=sys.stderr)
                rows.append(row)
        finally:
            stop_server(process)

    answered, seconds = offline_throughput(args.run, reviews)
    offline = {"zoo_predict_reviews_per_s": round(answered / seconds, 1),
               "in_process_reviews_per_s": round(in_process_throughput(args.run, reviews), 1)}
    report = {"run": args.run, "requests_per_row": args.requests, "rows": rows, "offline": offline}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)


def print_table(report: dict) -> None:
    offline = report["offline"]
    print("| setting | concurrency | requests/s | reviews/s | p50 ms | p95 ms | p99 ms | 503s | errors |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in report["rows"]:
        print(f"| {r['setting']} | {r['concurrency']} | {r['requests_per_s']:,.0f} | {r['reviews_per_s']:,.0f} | "
              f"{r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | {r['shed_503']} | {r['errors']} |")
    print(f"\nzoo predict (25,000 test reviews, end to end): {offline['zoo_predict_reviews_per_s']:,.0f} reviews/s; "
          f"zoo.load(RUN).predict in-process: {offline['in_process_reviews_per_s']:,.0f} reviews/s")
    by = {(r["setting"].split(" (")[0], r["concurrency"]): r for r in report["rows"]}
    on, off = by[("batching", 32)], by[("batching off", 32)]
    print(f"at concurrency 32: {on['reviews_per_s'] / max(off['reviews_per_s'], 1e-9):.1f}x batching off; "
          f"{on['reviews_per_s'] / offline['zoo_predict_reviews_per_s']:.0%} of zoo predict's reviews/s "
          f"({on['reviews_per_s'] / offline['in_process_reviews_per_s']:.0%} of in-process); "
          f"p99 {on['p99_ms']} ms; errors {on['errors']}; at 128: {by[('batching', 128)]['shed_503']} shed with 503")


if __name__ == "__main__":
    main()
