# Every target creates the environment first if it is missing (a venv in .venv).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8866
# make demo: preheated kernels waiting for visitors, and kernels at most, the pool included
# (voila.json has the other settings); make bench-demo: pages opened at once
POOL   ?= 4
MAX_KERNELS ?= 24
VISITORS ?= 10

.PHONY: env sysdeps test test-fast models report report-quick report-strokes demo bench-demo bench-class bench-game bench-play bench-explore lab train download bench clean

env: $(STAMP)

# The renderer draws with cairo (Google's renderer): Debian's libcairo2, installed if missing.
sysdeps:
	@$(PYTHON) -c "import ctypes.util, sys; sys.exit(0 if ctypes.util.find_library('cairo') else 1)" 2>/dev/null || \
	  { command -v apt-get >/dev/null && SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ) && \
	    $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q libcairo2 || \
	    { echo "install the cairo library (Debian/Ubuntu: apt-get install libcairo2; macOS: brew install cairo)"; exit 1; }; }

$(STAMP): pyproject.toml | sysdeps
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $@

test: $(STAMP)         ## the whole test suite (browser test included when chromium is installed)
	$(PY) -m pytest

test-fast: $(STAMP)    ## without the notebook and browser tests
	$(PY) -m pytest -m "not slow and not browser"

models: $(STAMP)       ## train the release models into models/ and write their card (about an hour on 2 cores)
	$(PY) -m qd.training.release --out models
	$(PY) -m qd.report.model_card --models-dir models

report: $(STAMP)       ## run notebooks 01-07 with papermill (evaluating the release models), write reports/report.html
	$(PY) -m qd.report.pipeline

report-quick: $(STAMP) ## the same with tiny parameters (a few minutes)
	$(PY) -m qd.report.pipeline --quick

report-strokes: $(STAMP) ## notebook 06's whole comparison: every approach (qd.training.approaches.ALL), both tasks, longer training (~30 min)
	$(PY) -m qd.report.pipeline --only 06_strokes -p '06_strokes.tasks=["25 classes", "345 classes"]' \
	  -p '06_strokes.approaches="all"' -p 06_strokes.epochs=15 -p 06_strokes.rnn_epochs=15 -p 06_strokes.finetune_epochs=15

demo: $(STAMP)         ## the drawing demo, served by Voila on this machine (a class: make demo HOST=0.0.0.0 POOL=10)
	$(PY) -m qd.app.serve notebooks/demo.ipynb --Voila.ip=$(HOST) --port=$(PORT) --no-browser \
	  --pool_size=$(POOL) --ClassroomKernelManager.max_kernels=$(MAX_KERNELS)

bench-demo: $(STAMP)   ## VISITORS real Chromium pages on the demo at once, then 50 one after another: one JSON line (~6 min)
	$(PY) -m qd.app.loadtest --visitors $(VISITORS) --bench

bench-class: $(STAMP)  ## a class on the wire: 1-30 protocol visitors drawing at once, no browsers: one JSON line, reports/bench_class.png (~6 min)
	$(PY) -m qd.app.classbench --bench

bench-game: $(STAMP)   ## replay held-out raw drawings through the demo's game rules: one JSON line (~5 min)
	$(PY) -m qd.app.replay --bench

bench-explore: $(STAMP) ## the JupyterLab explorers: a page of 100 drawings, a click on a confusion cell, median ms: one JSON line
	$(PY) -m qd.app.explore --bench

bench-play: $(STAMP)   ## whole 6-round games in Chromium on the served demo, held-out drawings at their own pace: one JSON line (~7 min)
	$(PY) -m qd.app.playtest --bench

lab: $(STAMP)          ## JupyterLab on notebooks/ (as root, in a container: with --allow-root, and it says so)
	@if [ "$$(id -u)" = 0 ]; then \
		echo "make lab: running as root (a container?): starting JupyterLab with --allow-root"; \
		$(VENV)/bin/jupyter lab notebooks --allow-root $(LAB_ARGS); \
	else \
		$(VENV)/bin/jupyter lab notebooks $(LAB_ARGS); \
	fi

train: $(STAMP)        ## e.g. make train ARGS="--model cnn --epochs 10"
	$(PY) -m qd.training.train $(ARGS)

download: $(STAMP)     ## official files for all 345 classes, e.g. make download ARGS="--kind simplified --per-class 5000"
	$(PY) -m qd.data.download --classes all $(ARGS)

bench: $(STAMP)        ## one JSON line each: the renderer, and training throughput (mmap vs on-the-fly rendering)
	$(PY) -m qd.data.render --bench
	$(PY) -m qd.training.stream --bench

clean:
	rm -rf reports/*.ipynb reports/*.html reports/metrics reports/figures reports/timings.json .pytest_cache   # never models/: the release
