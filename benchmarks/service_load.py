"""Load on a real `kmed serve`: N clients for a while on /v1/search and /v1/ask over an index.

    .venv/bin/python benchmarks/service_load.py --data-dir bench-data/statutes \
        [--clients 32] [--seconds 120] [--questions corpora/train/questions.jsonl]

The clients alternate search and ask, with questions from the training set's validation fold.
Prints JSON: errors by status (goal 0), p50/p95/p99 per route, throughput, and the server's resident
memory before and after. The server runs with the default settings except rate limits, which
one test address would exhaust.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
from measure import rss_mib

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--questions", type=Path, default=ROOT / "corpora" / "train" / "questions.jsonl")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.questions.read_text("utf-8").splitlines() if line.strip()]
    questions = [r["question"] for r in rows if r.get("fold") == "val"]
    port = free_port()
    env = {
        **os.environ,
        "KMED_DATA_DIR": str(args.data_dir),
        "KMED_AUTH__ANONYMOUS_RATE_LIMIT": "1000000/minute",
        "KMED_SERVER__LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "kmed"), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None:
                raise SystemExit("kmed serve did not start")
            time.sleep(0.5)
        with httpx.Client(base_url=base, timeout=60) as warm:  # load the models before measuring
            warm.post("/v1/ask", json={"question": questions[0]})
        before = round(rss_mib(server.pid), 1)
        latencies: dict[str, list[float]] = {"search": [], "ask": []}
        statuses: Counter[str] = Counter()
        lock = threading.Lock()
        deadline = time.monotonic() + args.seconds

        def client(n: int) -> None:
            with httpx.Client(base_url=base, timeout=120) as http:
                i = n
                while time.monotonic() < deadline:
                    question = questions[i % len(questions)]
                    route = "ask" if i % 2 else "search"
                    started = time.perf_counter()
                    try:
                        if route == "ask":
                            r = http.post("/v1/ask", json={"question": question})
                        else:
                            r = http.get("/v1/search", params={"q": question})
                        status = str(r.status_code)
                    except httpx.HTTPError as exc:
                        status = type(exc).__name__
                    with lock:
                        latencies[route].append(time.perf_counter() - started)
                        statuses[status] += 1
                    i += args.clients

        threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
        after = round(rss_mib(server.pid), 1)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)

    def pct(values: list[float], q: int) -> float:
        return round(statistics.quantiles(values, n=100)[q - 1] * 1000, 1) if len(values) > 1 else 0.0

    total = sum(statuses.values())
    report = {
        "clients": args.clients,
        "seconds": round(elapsed, 1),
        "requests": total,
        "errors": {k: v for k, v in statuses.items() if k != "200"},
        "throughput_rps": round(total / elapsed, 2),
        **{
            f"{route}_ms": {"p50": pct(v, 50), "p95": pct(v, 95), "p99": pct(v, 99), "n": len(v)}
            for route, v in latencies.items()
        },
        "server_rss_mib": {"before": before, "after": after},
        "cpus": os.cpu_count(),
    }
    sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
