# CPU image of the stance REST service: `docker build -t stance . && docker run -p 8000:8000 stance`
# BASE: any image with Python 3.11 and pip as `python`/`pip`; TORCH_INDEX: where the CPU torch wheel comes
# from; PIP_FIND_LINKS: a folder of wheels mounted into the build, searched before the index (pip reads it from
# the environment; empty: none). scripts/container-smoke.sh builds with all three on a machine without a registry.
ARG BASE=python:3.11-slim
FROM ${BASE}
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ARG PIP_FIND_LINKS=

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HF_DATASETS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    STANCE_MODEL_DIR=/app/models/default

WORKDIR /app

# torch alone from the CPU-only index: PyPI's default wheel brings gigabytes of CUDA libraries.
# Its own layer, so it is cached across every change below.
RUN pip install --index-url "${TORCH_INDEX}" torch==2.13.0

# The other dependencies, read from pyproject.toml: this layer is rebuilt only when pyproject.toml changes.
# (torch==2.13.0 is already met by 2.13.0+cpu, so pip keeps the CPU build.)
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The code, then the shipped model. An editable install keeps the code in /app, where
# `model.directory.default_model_dir()` finds models/default beside it.
COPY README.md cli.py ./
COPY model/ model/
COPY training/ training/
COPY service/ service/
COPY batch/ batch/
RUN pip install --no-deps -e . \
    && useradd --create-home --uid 10001 stance
COPY models/default/ models/default/
# The shipped directory records its int8 graph's SHA-256 instead of the graph (50 MB budget): rebuild
# it here once and verify it, so the container serves the gated int8 graph (model/export.py).
ENV STANCE_CACHE_DIR=/app/.cache
# Readable by the service's user whatever the build context's modes (safetensors writes 0600 files).
RUN chmod -R a+rX models/default \
    && mkdir -p /app/.cache && python -m model.export && chown -R stance /app/.cache

USER stance
EXPOSE 8000

# /ready answers 200 only once the model is loaded and warmed up (urlopen raises on 503).
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=4)"]

CMD ["stance", "serve", "--host", "0.0.0.0", "--port", "8000"]
