"""The pipeline: run notebooks 01-07 in order with papermill, then write one HTML report.

    python -m qd.report.pipeline                        # full parameters (make report)
    python -m qd.report.pipeline --quick                # tiny parameters, a couple of minutes (CI, smoke tests)
    python -m qd.report.pipeline --only 04_cnn -p 04_cnn.epochs=3

Executed notebooks go to reports/NN_name.ipynb (and .html), metric rows to reports/metrics/,
figures to reports/figures/, and the summary to reports/report.html. A failing notebook stops the
pipeline with the failing cell and error named, and report.html then says the run failed. Quick
run writes only under the reports folder: the release models in models/ are evaluated, never overwritten.
Kernels talk over IPC sockets (local files), not TCP: nothing listens on the network.
"""
from __future__ import annotations

import argparse
import ast
import json
import sys
import time
import uuid
from pathlib import Path

import nbformat
import papermill as pm
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbconvert import HTMLExporter
from tqdm.auto import tqdm
from traitlets import default
from traitlets.config import Config

from qd import atomic
from qd.errors import PipelineError, QDError
from qd.paths import NOTEBOOKS_DIR, REPORTS_DIR
from qd.report.html import write_report
from qd.training import approaches

NOTEBOOKS = ["01_eda", "02_augmentation", "03_mlp", "04_cnn", "05_random_forest", "06_strokes", "07_game"]

# Small settings for --quick and for tests: every notebook runs end to end on a few hundred images.
QUICK = {
    "01_eda": {"per_class": 100, "n_grid": 10, "classes": ["apple", "cat", "eye", "fish", "star"]},
    "02_augmentation": {"per_class": 100, "epochs": 1, "presets": ["none", "flip"]},
    "03_mlp": {"per_class": 100, "epochs": 1, "ours_epochs": 1, "grid_epochs": 1, "dropouts": [0.0, 0.5],
               "weight_decays": [0.0]},
    "04_cnn": {"per_class": 60, "ref_epochs": 1},
    "05_random_forest": {"per_class": 100, "n_estimators": 10, "n_components": 20, "curve_sizes": [10, 30],
                         "curve_epochs": 1, "curve_min_steps": 2, "cnn_width": 8},
    "06_strokes": {"tasks": ["25 classes", "345 classes"], "max_classes": 12, "epochs": 1, "rnn_epochs": 1,
                   "finetune_epochs": 1, "width": 8, "max_len": 48, "approaches": list(approaches.ALL),
                   "curve_sizes": [2, 4], "curve_epochs": 1, "curve_min_steps": 2},
    "07_game": {"limit_per_class": 2, "limit_per_class_345": 1, "examples": 2},
}


class IPCKernelManager(AsyncKernelManager):
    """Kernels on IPC sockets: local files instead of TCP ports, so no plain-text traffic on the
    network (and no 'Kernel is running over TCP without encryption' warning per notebook)."""

    @default("transport")
    def _default_transport(self):
        return "ipc"

    @default("ip")
    def _default_ip(self):
        """The sockets' path prefix: in Jupyter's private runtime folder, not the notebooks folder
        (the default, "kernel-ipc" in the working directory, leaves sockets there if a run is killed)."""
        runtime = Path(jupyter_runtime_dir())
        runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
        return str(runtime / f"qd-kernel-{uuid.uuid4().hex[:12]}-ipc")


def notebook_parameters(name: str) -> set[str]:
    """The names in a notebook's `parameters` cell."""
    return set(pm.inspect_notebook(str(NOTEBOOKS_DIR / f"{name}.ipynb")))


def check_overrides(names: list[str], overrides: dict[str, dict]) -> None:
    """Every override names a notebook of the run and a parameter that notebook has."""
    for nb, params in overrides.items():
        if nb not in names:
            raise PipelineError(f"parameters given for {nb!r}, which this run does not include "
                                f"(it runs: {', '.join(names)})")
        known = notebook_parameters(nb)
        unknown = sorted(set(params) - known)
        if unknown:
            raise PipelineError(f"notebook {nb} has no parameter {', '.join(map(repr, unknown))}; "
                                f"its parameters: {', '.join(sorted(known))}")


def run_notebook(name: str, reports_dir: Path, parameters: dict | None = None, progress: bool = True) -> Path:
    """Execute notebooks/<name>.ipynb with papermill into reports_dir/<name>.ipynb."""
    out = reports_dir / f"{name}.ipynb"
    params = {"reports_dir": str(reports_dir), **(parameters or {})}
    try:
        pm.execute_notebook(str(NOTEBOOKS_DIR / f"{name}.ipynb"), str(out), parameters=params,
                            kernel_name="python3", cwd=str(NOTEBOOKS_DIR), progress_bar=progress,
                            kernel_manager_class=IPCKernelManager)
    except pm.PapermillExecutionError as e:
        raise PipelineError(f"notebook {name} failed in cell {e.exec_count} ({e.ename}: {e.evalue}); "
                            f"the executed notebook with the error cell is {out}") from e
    except DeadKernelError as e:
        raise PipelineError(f"notebook {name}: its kernel died (out of memory, or killed?): {e}; "
                            f"the cells it ran are in {out}") from e
    except CellTimeoutError as e:
        raise PipelineError(f"notebook {name}: a cell timed out ({e})") from e
    return out


# A widget's live view has no state in an executed notebook, so the report would show nothing for it;
# a widget that also gives a PNG of its first view (qd.app.explore) shows that picture instead.
DISPLAY_PRIORITY = ["application/javascript", "text/html", "text/markdown", "image/svg+xml", "text/latex",
                    "image/png", "image/jpeg", "application/vnd.jupyter.widget-view+json", "text/plain"]


def to_html(ipynb: Path) -> Path:
    exporter = HTMLExporter(config=Config({"NbConvertBase": {"display_data_priority": DISPLAY_PRIORITY}}))
    body, _ = exporter.from_notebook_node(nbformat.read(ipynb, as_version=4))
    return atomic.write_text(ipynb.with_suffix(".html"), body)


# ----------------------------------------------------------------------------- running

def run(quick: bool = False, reports_dir: Path | None = None, only: list[str] | None = None,
        progress: bool = True, overrides: dict[str, dict] | None = None) -> Path:
    """Run the notebooks in order, then write the report. `overrides`: extra parameters per notebook."""
    reports_dir = Path(reports_dir or REPORTS_DIR)
    names = only or NOTEBOOKS
    overrides = overrides or {}
    unknown = [n for n in names if n not in NOTEBOOKS]
    if unknown:
        raise PipelineError(f"no notebook {', '.join(unknown)}; the notebooks: {', '.join(NOTEBOOKS)}")
    check_overrides(names, overrides)
    try:
        atomic.ensure_writable_dir(reports_dir, "reports folder")
    except QDError as e:
        raise PipelineError(str(e)) from e
    seconds: dict[str, float] = {}
    try:
        for name in tqdm(names, desc="notebooks", disable=not progress):
            t = time.perf_counter()
            tqdm.write(f"running {name} ...")
            params = {**(QUICK.get(name, {}) if quick else {}), **overrides.get(name, {})}
            out = run_notebook(name, reports_dir, params, progress)
            to_html(out)
            seconds[name] = time.perf_counter() - t
            tqdm.write(f"{name} done in {seconds[name]:.0f} s")
    except PipelineError as e:
        write_report(reports_dir, seconds, quick, NOTEBOOKS, failure=str(e))
        raise
    atomic.write_text(reports_dir / "timings.json", json.dumps(seconds, indent=1))
    return write_report(reports_dir, seconds, quick, NOTEBOOKS)


def parse_param(text: str) -> tuple[str, str, object]:
    """'04_cnn.epochs=3' -> ('04_cnn', 'epochs', 3); values are Python literals, else strings."""
    try:
        target, value = text.split("=", 1)
        nb, key = target.split(".", 1)
    except ValueError:
        raise PipelineError(f"bad --param {text!r}: expected NOTEBOOK.NAME=VALUE, e.g. 04_cnn.epochs=3") from None
    try:
        value = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        pass
    return nb, key, value


def main(argv=None):
    p = argparse.ArgumentParser(allow_abbrev=False, prog="python -m qd.report.pipeline", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny parameters (a couple of minutes)")
    p.add_argument("--reports-dir", default=None, help=f"default: {REPORTS_DIR}")
    p.add_argument("--only", nargs="+", help=f"run only these notebooks ({', '.join(NOTEBOOKS)})")
    p.add_argument("-p", "--param", action="append", default=[], metavar="NOTEBOOK.NAME=VALUE",
                   help="set a notebook parameter, e.g. -p 04_cnn.epochs=3 (repeatable)")
    a = p.parse_args(argv)
    try:
        overrides: dict[str, dict] = {}
        for text in a.param:
            nb, key, value = parse_param(text)
            overrides.setdefault(nb, {})[key] = value
        out = run(a.quick, Path(a.reports_dir) if a.reports_dir else None, a.only, overrides=overrides)
    except QDError as e:
        print(f"pipeline stopped: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: the notebooks that finished are in the reports folder; report.html was not rewritten",
              file=sys.stderr)
        return 130
    timings = json.loads((out.parent / "timings.json").read_text())
    print("per notebook: " + ", ".join(f"{n} {t:.0f} s" for n, t in timings.items()) + f"; total {sum(timings.values()):.0f} s")
    print(f"report: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
