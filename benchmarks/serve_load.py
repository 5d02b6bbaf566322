"""A bounded load test of `polytag serve` on loopback: the server is started here on a free
127.0.0.1 port, then 1, 8 and 32 concurrent clients (persistent HTTP/1.1 connections) each send a
fixed number of requests of one 20-word sentence; p50/p95/p99 latency, words/s, errors, and the
server's RSS before and after. It stops by itself (request count and a time limit per level).
The reference is `polytag tag` on the same sentences (a words file, batched as the CLI does), run
here with the same threads; the server's words/s at 32 clients is reported as a share of it.

The clients are asyncio streams writing HTTP/1.1 by hand, in this one process: on a 2-core machine
the load generator shares the CPU with the server, and a thread-per-client `http.client` load
generator spent about as much CPU as the server's HTTP layer (what `wrk` avoids by being C).

    python benchmarks/serve_load.py --requests 10000 --json docs/results/serve_load.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SENTENCE = ("The committee said on Tuesday that the rules would apply to all members from the "
            "start of next year .").split()  # 20 words


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def client(port: int, n: int, stop_at: float, latencies: list, errors: list) -> None:
    body = json.dumps({"sentences": [SENTENCE]}).encode()
    request = (f"POST /v1/tag HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(n):
            if time.monotonic() > stop_at:
                break
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            await reader.readexactly(length)
            (latencies if head.startswith(b"HTTP/1.1 200") else errors).append(time.perf_counter() - start)
    finally:
        writer.close()


def level(port: int, clients: int, requests: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors: list[float] = []
    per_client = max(1, requests // clients)
    stop_at = time.monotonic() + seconds

    async def run_all() -> None:
        await asyncio.gather(*(client(port, per_client, stop_at, latencies, errors) for _ in range(clients)))

    start = time.perf_counter()
    asyncio.run(run_all())
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(q: float) -> float:
        return round(1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2) if latencies else None

    return {"clients": clients, "requests": len(latencies), "errors": len(errors),
            "words_per_s": round(len(latencies) * len(SENTENCE) / elapsed), "p50_ms": pct(0.5),
            "p95_ms": pct(0.95), "p99_ms": pct(0.99)}


def tag_reference(model: str | None, threads: int, sentences: int = 5000) -> int:
    """`polytag tag`'s words/s on the same sentence, `sentences` times, start-up time taken off."""
    def run(n: int, folder: str) -> float:
        path = Path(folder) / f"in{n}.txt"
        path.write_text((" ".join(SENTENCE) + "\n") * n, encoding="utf-8")
        command = [sys.executable, "-m", "polytag.cli", "tag", str(path), "--format", "words",
                   "-o", str(path) + ".out", "--threads", str(threads)] + (["--model", model] if model else [])
        start = time.perf_counter()
        subprocess.run(command, check=True, stderr=subprocess.DEVNULL)
        return time.perf_counter() - start

    with tempfile.TemporaryDirectory() as folder:
        startup = min(run(1, folder) for _ in range(2))
        best = min(run(sentences, folder) for _ in range(3))  # the least disturbed of three runs
        return round(sentences * len(SENTENCE) / max(1e-6, best - startup))


class RunningServer:
    """`polytag serve` with these options on a free loopback port, stopped by SIGTERM on exit."""

    def __init__(self, args, *options: str):
        self.port = free_port()
        command = [sys.executable, "-m", "polytag.cli", "serve", "--port", str(self.port),
                   "--threads", str(args.threads), *options] + (["--model", args.model] if args.model else [])
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def __enter__(self) -> RunningServer:
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        level(self.port, 1, 50, 10)  # warm up
        return self

    def __exit__(self, *exc) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model folder (default: the shipped model)")
    parser.add_argument("--requests", type=int, default=10_000, help="requests per concurrency level")
    parser.add_argument("--seconds", type=float, default=120, help="time limit per level")
    parser.add_argument("--threads", type=int, default=2, help="model threads")
    parser.add_argument("--batch-wait-ms", type=float, help="the server's --batch-wait-ms (default: its own)")
    parser.add_argument("--json")
    args = parser.parse_args()
    options = ["--batch-wait-ms", str(args.batch_wait_ms)] if args.batch_wait_ms is not None else []
    with RunningServer(args, *options) as server:
        rows = []
        for clients in (1, 8, 32):
            rows.append(level(server.port, clients, args.requests, args.seconds))
            rows[-1]["rss_mb_after"] = round(rss_mb(server.process.pid), 1)
        # memory growth: the same 32-client load again, once the model's buffers have seen its batches
        before = rss_mb(server.process.pid)
        level(server.port, 32, args.requests, args.seconds)
        after = rss_mb(server.process.pid)
    # what dynamic batching buys: the same server taking one request per model call
    with RunningServer(args, *options, "--max-batch-words", "1") as server:
        unbatched = [level(server.port, clients, args.requests, args.seconds) for clients in (8, 32)]
    reference = tag_reference(args.model, args.threads)
    result = {"levels": rows, "one_request_per_model_call": unbatched, "rss_mb_before_repeat": round(before, 1),
              "rss_mb_after_repeat": round(after, 1),
              "tag_words_per_s": reference, "share_at_32": round(rows[-1]["words_per_s"] / reference, 3),
              "batch_wait_ms": args.batch_wait_ms, "sentence_words": len(SENTENCE), "model_threads": args.threads,
              "cpus": os.cpu_count(), "command": "python benchmarks/serve_load.py " + " ".join(sys.argv[1:])}
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
