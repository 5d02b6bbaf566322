"""A bounded load test of `polytag serve` on loopback: the server is started here on a free
127.0.0.1 port, then 1, 8 and 32 concurrent clients (persistent HTTP connections) each send a
fixed number of requests of one 20-word sentence; p50/p95/p99 latency, words/s, errors, and the
server's RSS before and after. It stops by itself (request count and a time limit per level).

    python benchmarks/serve_load.py --requests 10000 --json docs/results/serve_load.json
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
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


def client(port: int, n: int, stop_at: float, latencies: list, errors: list) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = json.dumps({"sentences": [SENTENCE]})
    for _ in range(n):
        if time.monotonic() > stop_at:
            break
        start = time.perf_counter()
        try:
            conn.request("POST", "/v1/tag", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            ok = response.status == 200
        except OSError:
            ok = False
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        (latencies if ok else errors).append(time.perf_counter() - start)


def level(port: int, clients: int, requests: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors: list[float] = []
    per_client = max(1, requests // clients)
    stop_at = time.monotonic() + seconds
    threads = [threading.Thread(target=client, args=(port, per_client, stop_at, latencies, errors))
               for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(q: float) -> float:
        return round(1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2) if latencies else None

    return {"clients": clients, "requests": len(latencies), "errors": len(errors),
            "words_per_s": round(len(latencies) * len(SENTENCE) / elapsed), "p50_ms": pct(0.5),
            "p95_ms": pct(0.95), "p99_ms": pct(0.99)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model folder (default: the shipped model)")
    parser.add_argument("--requests", type=int, default=10_000, help="requests per concurrency level")
    parser.add_argument("--seconds", type=float, default=120, help="time limit per level")
    parser.add_argument("--threads", type=int, default=2, help="model threads")
    parser.add_argument("--json")
    args = parser.parse_args()
    port = free_port()
    command = [sys.executable, "-m", "polytag.cli", "serve", "--port", str(port), "--threads", str(args.threads)]
    server = subprocess.Popen(command + (["--model", args.model] if args.model else []),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        level(port, 1, 50, 10)  # warm up
        before = rss_mb(server.pid)
        rows = [level(port, c, args.requests, args.seconds) for c in (1, 8, 32)]
        after = rss_mb(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    result = {"levels": rows, "rss_mb_before": round(before, 1), "rss_mb_after": round(after, 1),
              "sentence_words": len(SENTENCE), "model_threads": args.threads, "cpus": os.cpu_count()}
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
