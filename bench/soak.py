"""`python -m bench.soak`: a fixed number of requests against `stance serve`, watching its memory.

Loopback only, bounded: one server on a free 127.0.0.1 port, `bench/load.py` sending `--requests`
single-paragraph requests from `--clients` threads (stopping after an hour whatever happens). Reports
latency percentiles, throughput, errors, and the server's resident memory when ready, at its peak, right
after the run and after 10 idle seconds. Writes `bench/results-load.json` and the block in bench/README.md.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from bench.run import BENCH, machine, paragraphs, start_server, update_readme
from model.directory import default_model_dir

RSS_TARGET_MB = 600.0


def rss_mb(process: psutil.Process) -> float:
    return round(process.memory_info().rss / 2**20, 1)


def soak(model_dir: Path, backend: str, requests: int, clients: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "paragraphs.jsonl"
        data.write_text("".join(json.dumps(row) + "\n" for row in paragraphs(2000)))
        server, url, _ = start_server(model_dir, backend)
        process = psutil.Process(server.pid)
        samples = [rss_mb(process)]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.5):
                samples.append(rss_mb(process))

        sampler = threading.Thread(target=sample, daemon=True)
        try:
            sampler.start()
            load = subprocess.run(
                [
                    *(sys.executable, "-m", "bench.load", "--url", url, "--paragraphs", str(data)),
                    *("--clients", str(clients), "--max-requests", str(requests), "--seconds", "3600"),
                ],
                check=True,
                capture_output=True,
                text=True,
                cwd=BENCH.parent,
            )
            done.set()
            sampler.join()
            after = rss_mb(process)
            time.sleep(10)
            idle = rss_mb(process)
        finally:
            done.set()
            server.terminate()
            server.wait(timeout=60)
    return {
        "requests": requests,
        "clients": clients,
        "load": json.loads(load.stdout.strip().splitlines()[-1]),
        "rss_mb": {"ready": samples[0], "peak": max(samples), "after": after, "after_10s_idle": idle},
        # Every 10th sample (5 s apart): how memory moved during the run.
        "rss_mb_every_5s": samples[::10],
    }


def markdown(results: dict[str, Any]) -> str:
    m, load, rss = results["machine"], results["load"], results["rss_mb"]
    errors = sum(n for status, n in load["statuses"].items() if status != "200")
    met = "met" if rss["after"] <= RSS_TARGET_MB else "**not met**"
    return "\n".join(
        [
            f"Measured {results['date']} on {m['cores']} cores ({m['cpu']}), Python {m['python']}; model "
            f"`{results['model']}`, backend **{results['backend']}**; environment: {results['environment']}.",
            "",
            f"- {results['requests']:,} requests from {results['clients']} clients in {load['seconds']} s: "
            f"{load['throughput_per_s']} requests/s, {errors} errors (statuses {load['statuses']})",
            f"- latency ms: p50 {load['p50_ms']}, p90 {load['p90_ms']}, p95 {load['p95_ms']}, "
            f"p99 {load['p99_ms']}, max {load['max_ms']}",
            f"- resident memory MB: {rss['ready']} ready, {rss['peak']} peak, {rss['after']} after the run "
            f"(target <= {RSS_TARGET_MB:.0f}: {met}), {rss['after_10s_idle']} after 10 s idle",
            f"- every 5 s: {', '.join(str(v) for v in results['rss_mb_every_5s'])}",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=default_model_dir())
    parser.add_argument("--backend", default="auto", choices=["auto", "onnx", "torch"])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--no-readme", action="store_true", help="print only; keep the recorded results")
    args = parser.parse_args()
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "model": str(args.model),
        "backend": args.backend,
        "environment": " ".join(
            f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith(("MALLOC_", "STANCE_"))
        )
        or "defaults",
        **soak(args.model, args.backend, args.requests, args.clients),
    }
    table = markdown(results)
    print(json.dumps(results, indent=2))
    print(table)
    if not args.no_readme:
        (BENCH / "results-load.json").write_text(json.dumps(results, indent=2) + "\n")
        update_readme(BENCH / "README.md", "load", table)


if __name__ == "__main__":
    main()
