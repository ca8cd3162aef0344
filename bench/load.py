"""Load generator, run in its own process: N clients send single-paragraph requests for a fixed time."""

import argparse
import json
import threading
import time
from pathlib import Path

import httpx


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--paragraphs", required=True, help="JSONL with a text field")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--max-requests", type=int, default=20000)
    args = parser.parse_args()

    texts = [json.loads(line)["text"] for line in Path(args.paragraphs).read_text().splitlines()]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    deadline = time.perf_counter() + args.seconds
    counter = iter(range(args.max_requests))

    def client(offset: int) -> None:
        with httpx.Client(timeout=30) as http:
            while time.perf_counter() < deadline:
                try:
                    n = next(counter)
                except StopIteration:
                    return
                text = texts[(n + offset) % len(texts)]
                start = time.perf_counter()
                response = http.post(f"{args.url}/v1/classify", json={"texts": [text]})
                elapsed = time.perf_counter() - start
                with lock:
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                    if response.status_code == 200:
                        latencies.append(elapsed)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i * 97,)) for i in range(args.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()
    print(
        json.dumps(
            {
                "clients": args.clients,
                "seconds": round(wall, 2),
                "ok": len(latencies),
                "statuses": statuses,
                "throughput_per_s": round(len(latencies) / wall, 1),
                "p50_ms": round(1000 * latencies[len(latencies) // 2], 1) if latencies else None,
                "p99_ms": round(1000 * latencies[int(len(latencies) * 0.99) - 1], 1) if latencies else None,
            }
        )
    )


if __name__ == "__main__":
    main()
