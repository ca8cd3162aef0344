"""ONNX export: fp32 graph -> onnxruntime transformer fusions -> dynamic int8 quantisation.

Lives in `model/` because it produces a backend of the model directory (`model.int8.onnx`) that
the Labeler loads by default; `stance train` and `stance export` both call it.

The fp16 torch weights (45 MB) and the int8 graph (23 MB) do not both fit the shipped model's 50 MB,
and the export is deterministic (the same weights and pinned versions give the same bytes), so the
shipped directory records the SHA-256 of the graph training exported and gated (`int8_sha256` in
`stance.json`) and each machine rebuilds that graph once from the weights (`derived_int8_graph`,
run by `make install`), using it only if its hash matches: users get exactly the gated graph.
"""

import hashlib
import logging
import os
import tempfile
from pathlib import Path

from model.directory import ONNX_INT8

log = logging.getLogger(__name__)


def export_onnx(model_dir: Path, opset: int = 17, target: Path | None = None) -> Path:
    """Write the int8 graph of a directory holding safetensors weights (default: `model.int8.onnx` in it)."""
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoModelForSequenceClassification

    # Eager attention exports the MatMul/Softmax pattern ORT's optimizer fuses into its Attention
    # kernel; the SDPA export is left unfused (measured: no Attention nodes, inference ~22% slower).
    model = AutoModelForSequenceClassification.from_pretrained(
        model_dir, dtype=torch.float32, attn_implementation="eager"
    ).eval()
    config = model.config
    example = {
        "input_ids": torch.ones((2, 16), dtype=torch.long),
        "attention_mask": torch.ones((2, 16), dtype=torch.long),
        "token_type_ids": torch.zeros((2, 16), dtype=torch.long),
    }
    dynamic = {name: {0: "batch", 1: "sequence"} for name in example}
    with tempfile.TemporaryDirectory() as scratch:
        fp32 = Path(scratch) / "model.onnx"
        fused = Path(scratch) / "model.fused.onnx"
        torch.onnx.export(
            model,
            (),
            str(fp32),
            kwargs=example,
            input_names=list(example),
            output_names=["logits"],
            dynamic_axes=dynamic,
            opset_version=opset,
            dynamo=False,  # the TorchScript exporter emits the plain BERT graph ORT's fusions recognise
        )
        # Fuse attention, LayerNorm and GELU into ORT's contrib kernels before quantising them.
        optimized = optimize_model(
            str(fp32), model_type="bert", num_heads=config.num_attention_heads, hidden_size=config.hidden_size
        )
        optimized.save_model_to_file(str(fused))
        target = target or model_dir / ONNX_INT8
        # Dynamic quantisation: int8 weights, activations quantised on the fly; no calibration data.
        quantize_dynamic(
            str(fused),
            str(target),
            weight_type=QuantType.QInt8,
            # One scale per output channel: per-tensor scales flipped 9-12% of real-dev labels, this 3.4%.
            per_channel=True,
            # Fused contrib ops defeat ONNX shape inference; their outputs are float32.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    return target


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cache_dir() -> Path:
    """Where rebuilt graphs are kept: `STANCE_CACHE_DIR`, else `~/.cache/stance`."""
    return Path(os.environ.get("STANCE_CACHE_DIR") or Path.home() / ".cache" / "stance")


def derived_int8_graph(model_dir: Path, sha256: str) -> Path | None:
    """The int8 graph a model directory records but does not ship, rebuilt from its weights once.

    Returns None (the caller falls back to torch) when the rebuilt graph is not byte-identical to
    the one training gated, e.g. under other library versions: an ungated graph is never used.
    """
    path = cache_dir() / f"model.int8.{sha256}.onnx"
    if path.exists() and sha256_of(path) == sha256:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    log.warning("building the int8 graph of %s once (about a minute); cached at %s", model_dir, path)
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        built = export_onnx(model_dir, target=Path(scratch) / ONNX_INT8)
        actual = sha256_of(built)
        if actual != sha256:
            log.warning(
                "the rebuilt int8 graph of %s differs from the gated one (sha256 %s, expected %s): "
                "using the torch backend",
                model_dir,
                actual[:12],
                sha256[:12],
            )
            return None
        built.replace(path)  # atomic within one file system: concurrent builders never see half a file
    return path


if __name__ == "__main__":  # `make install`: build the shipped model's graph before the first request
    from model.directory import Manifest, default_model_dir

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    directory = default_model_dir()
    recorded = Manifest.load(directory).int8_sha256
    if recorded and not (directory / ONNX_INT8).exists():
        print(
            derived_int8_graph(directory, recorded) or "int8 graph differs from the gated one: torch backend"
        )
