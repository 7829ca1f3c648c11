# Every target creates the environment first if it is missing (a venv in .venv).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8866

.PHONY: env test test-fast report report-quick demo lab train clean

env: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $@

test: $(STAMP)         ## the whole test suite (browser test included when chromium is installed)
	$(PY) -m pytest

test-fast: $(STAMP)    ## without the notebook and browser tests
	$(PY) -m pytest -m "not slow and not browser"

report: $(STAMP)       ## run notebooks 01-05 with papermill, write reports/report.html
	$(PY) -m qd.pipeline

report-quick: $(STAMP) ## the same with tiny parameters (a minute)
	$(PY) -m qd.pipeline --quick

demo: $(STAMP)         ## the drawing demo, served by Voila
	$(VENV)/bin/voila notebooks/demo.ipynb --Voila.ip=$(HOST) --port=$(PORT) --no-browser

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks

train: $(STAMP)        ## e.g. make train ARGS="--model cnn --epochs 10"
	$(PY) -m qd.train $(ARGS)

clean:
	rm -rf reports/*.ipynb reports/*.html reports/metrics reports/figures models .pytest_cache
