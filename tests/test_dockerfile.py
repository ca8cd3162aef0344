"""The Dockerfile, its build context and scripts/container-smoke.sh agree with the repository (no build here:
`make container-smoke` builds and runs the image)."""

import re
import shlex
import subprocess
import tomllib
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "container-smoke.sh"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) for each instruction, continuation lines joined, comments dropped."""
    text = (REPO / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    words = [line.strip().split(None, 1) for line in joined.splitlines() if line.strip()]
    return [(name.upper(), args) for name, args in words]


def _copy_sources() -> list[str]:
    """Every source path of the COPY instructions (sources from the context, not from another stage)."""
    sources = []
    for words in (shlex.split(args) for name, args in _instructions() if name == "COPY"):
        if not any(w.startswith("--from") for w in words):
            sources += [w.rstrip("/") for w in words if not w.startswith("--")][:-1]
    return sources


def _dockerignored(path: str) -> bool:
    """Whether .dockerignore leaves `path` out: the last pattern matching it or a parent decides."""
    patterns = [p.strip() for p in (REPO / ".dockerignore").read_text().splitlines()]
    prefixes = ["/".join(PurePosixPath(path).parts[: i + 1]) for i in range(len(PurePosixPath(path).parts))]
    ignored = False
    for pattern in (p for p in patterns if p and not p.startswith("#")):
        if any(fnmatch(prefix, pattern.lstrip("!").strip("/")) for prefix in prefixes):
            ignored = not pattern.startswith("!")
    return ignored


def test_every_copy_source_is_in_the_build_context() -> None:
    sources = _copy_sources()
    assert sources
    for source in sources:
        assert (REPO / source).exists(), source
        assert not _dockerignored(source), f"{source} is left out of the build context by .dockerignore"


def test_the_image_gets_every_package_the_install_needs() -> None:
    # `pip install -e .` in the image fails, or installs a broken `stance`, if one of these is not copied.
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    needed = set(setuptools["packages"]) | {f"{m}.py" for m in setuptools["py-modules"]} | {"pyproject.toml"}
    assert needed <= set(_copy_sources())


def test_the_image_installs_the_pinned_torch() -> None:
    pins = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    (pin,) = [p for p in pins if p.startswith("torch==")]
    runs = " ".join(args for name, args in _instructions() if name == "RUN")
    assert re.findall(r"torch==[\w.+]+", runs) == [pin]


def test_the_smoke_script_parses_and_passes_only_declared_build_args() -> None:
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)
    declared = {args.split("=", 1)[0].strip() for name, args in _instructions() if name == "ARG"}
    passed = set(re.findall(r'--build-arg "?([A-Z_]+)=', SCRIPT.read_text()))
    # podman and docker only warn about an undeclared build argument, and the build goes on without it.
    assert "BASE" in passed
    assert passed <= declared
