"""Load generator, run in its own process: N clients send single-paragraph requests.

It stops after `--max-requests` requests or `--seconds`, whichever comes first, and prints one JSON line:
statuses (transport failures counted as `transport_error`), throughput and latency percentiles.
"""

import argparse
import json
import threading
import time
from pathlib import Path

import httpx


def percentile(ordered: list[float], share: float) -> float | None:
    """The nearest-rank percentile of sorted seconds, in milliseconds."""
    if not ordered:
        return None
    return round(1000 * ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))], 1)


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
    statuses: dict[str, int] = {}
    lock = threading.Lock()
    deadline = time.perf_counter() + args.seconds
    counter = iter(range(args.max_requests))

    def client(offset: int) -> None:
        with httpx.Client(timeout=60) as http:
            while time.perf_counter() < deadline:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                text = texts[(n + offset) % len(texts)]
                start = time.perf_counter()
                try:
                    status = str(http.post(f"{args.url}/v1/classify", json={"texts": [text]}).status_code)
                except httpx.TransportError:
                    status = "transport_error"
                elapsed = time.perf_counter() - start
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
                    if status == "200":
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
                **{f"p{q}_ms": percentile(latencies, q / 100) for q in (50, 90, 95, 99)},
                "max_ms": percentile(latencies, 1.0),
            }
        )
    )


if __name__ == "__main__":
    main()
