"""The pipeline: run notebooks 01-06 in order with papermill, then write one HTML report.

    python -m qd.pipeline                        # full parameters (make report)
    python -m qd.pipeline --quick                # tiny parameters, a couple of minutes (CI, smoke tests)
    python -m qd.pipeline --only 04_cnn -p 04_cnn.epochs=3

Executed notebooks go to reports/NN_name.ipynb (and .html), metric rows to reports/metrics/,
figures to reports/figures/, and the summary to reports/report.html. A failing notebook stops the
pipeline with the failing cell and error named, and report.html then says the run failed. Quick
runs save their models beside the reports (reports/models/), never over the demo's models/cnn.pt.
Kernels talk over IPC sockets (local files), not TCP: nothing listens on the network.
"""
from __future__ import annotations

import argparse
import ast
import base64
import html
import json
import sys
import time
import uuid
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import default
from tqdm.auto import tqdm

from qd import REPORTS_DIR, ROOT, atomic
from qd.evaluate import fmt
from qd.errors import QDError

NOTEBOOKS_DIR = ROOT / "notebooks"
NOTEBOOKS = ["01_eda", "02_augmentation", "03_mlp", "04_cnn", "05_random_forest", "06_strokes"]

# Small settings for --quick and for tests: every notebook runs end to end on a few hundred images.
QUICK = {
    "01_eda": {"per_class": 100, "n_grid": 10, "classes": ["apple", "cat", "eye", "fish", "star"]},
    "02_augmentation": {"per_class": 100, "epochs": 1, "presets": ["none", "flip"]},
    "03_mlp": {"per_class": 100, "epochs": 1, "ours_epochs": 1, "grid_epochs": 1, "dropouts": [0.0, 0.5],
               "weight_decays": [0.0]},
    "04_cnn": {"per_class": 60, "epochs": 1, "ref_epochs": 1, "forty_epochs": 1, "width": 8},
    "05_random_forest": {"per_class": 100, "n_estimators": 10, "n_components": 20, "curve_sizes": [10, 30],
                         "curve_epochs": 1, "curve_min_steps": 2, "cnn_width": 8},
    "06_strokes": {"tasks": ["25 classes", "345 classes"], "max_classes": 12, "epochs": 1, "rnn_epochs": 1, "finetune_epochs": 1, "width": 8, "max_len": 48,
                   "approaches": ["CNN 28x28", "CNN 64x64", "CNN order/time channels", "1-D conv + BiGRU",
                                  "CNN pretrained on 40 classes"]},
}


class PipelineError(RuntimeError):
    pass


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
        from jupyter_core.paths import jupyter_runtime_dir
        runtime = Path(jupyter_runtime_dir())
        runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
        return str(runtime / f"qd-kernel-{uuid.uuid4().hex[:12]}-ipc")


def notebook_parameters(name: str) -> set[str]:
    """The names in a notebook's `parameters` cell."""
    import papermill as pm
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
    import papermill as pm
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
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


def to_html(ipynb: Path) -> Path:
    import nbformat
    from nbconvert import HTMLExporter
    body, _ = HTMLExporter().from_notebook_node(nbformat.read(ipynb, as_version=4))
    return atomic.write_text(ipynb.with_suffix(".html"), body)


# ----------------------------------------------------------------------------- the report

PROTOCOL_ORDER = ["reference", "13 classes", "40 classes", "25 classes", "345 classes"]
PROTOCOL_TITLES = {"reference": "reference protocol (10 classes)", "13 classes": "13 classes",
                   "40 classes": "40 classes", "25 classes": "strokes, 25 classes",
                   "345 classes": "strokes, 345 classes"}
MODEL_ORDER = ["random forest (pixels)", "random forest (PCA 50)", "reference MLP (Adam)", "reference MLP (SGD)",
               "our MLP", "reference CNN", "our CNN", "our CNN + TTA", "CNN 28x28", "CNN 64x64",
               "CNN order/time channels", "1-D conv + BiGRU", "CNN pretrained on 40 classes", "DoodleNet, 345-way",
               "DoodleNet, restricted to our classes"]
DETAIL_COLS = [("model", "model"), ("test_acc", "accuracy"), ("top3_acc", "top-3"), ("map3", "MAP@3"),
               ("balanced_acc", "balanced accuracy"), ("train", "training drawings"), ("train_s", "training time"),
               ("infer_single_ms", "one drawing"), ("params", "parameters"), ("note", "note")]
FIGURES = [("learning_curve", "Learning curve: more drawings per class, CNN and random forest"),
           ("strokes_345", "Strokes, all 345 classes: the approaches on the same test drawings"),
           ("strokes_25", "Strokes, 25 classes: the approaches on the same test drawings"),
           ("strokes_encodings", "One drawing, four ways: 28x28, 64x64 ink, stroke order, time; the point sequence"),
           ("cnn_per_class_40", "Our CNN on 40 classes: accuracy per class"),
           ("cnn_confusion", "Our CNN on 13 classes: confusion matrix"),
           ("cnn_per_class", "Our CNN on 13 classes: accuracy per class"),
           ("cnn_mistakes", "The mistakes our CNN was surest of"), ("cnn_learning_curves", "CNN training curves"),
           ("mlp_learning_curves", "MLP training curves"), ("mlp_grid", "MLP: dropout x weight decay"),
           ("aug_effect", "Augmentation study"), ("eda_examples", "Examples per class"),
           ("eda_mean_images", "Mean image per class"), ("rf_scree", "PCA scree plot")]
REFERENCE_PUBLISHED = {"reference MLP (Adam)": 0.85, "reference CNN": 0.89}


def _table(rows: list[dict], cols: list[tuple[str, str]]) -> str:
    head = "".join(f"<th>{html.escape(t)}</th>" for _, t in cols)
    body = "".join("<tr>" + "".join(f"<td>{fmt(k, r.get(k))}</td>" for k, _ in cols) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _model_key(name: str):
    base = name.removesuffix(" + TTA")            # a flip-averaged row right after its model's
    return (MODEL_ORDER.index(base) if base in MODEL_ORDER else len(MODEL_ORDER), name != base, name)


def headline(models: list[dict]) -> tuple[list[dict], list[str]]:
    """One row per model, one accuracy column per protocol; DoodleNet marked as an upper bound."""
    protocols = [p for p in PROTOCOL_ORDER if any(r["protocol"] == p for r in models)]
    protocols += sorted({r["protocol"] for r in models} - set(protocols))
    by_model: dict[str, dict] = {}
    for r in models:
        by_model.setdefault(r["model"], {"model": r["model"]})[f"test_acc {r['protocol']}"] = r["test_acc"]
    rows = [{"model": f"{name}, as published (its own 10 classes†)", "test_acc reference": acc}
            for name, acc in REFERENCE_PUBLISHED.items()]
    for name in sorted(by_model, key=_model_key):
        row = by_model[name]
        if name.startswith("DoodleNet"):
            row["model"] = f"{name} (upper bound*)"
        rows.append(row)
    return rows, protocols


def write_report(reports_dir: Path, seconds: dict[str, float], quick: bool, failure: str | None = None) -> Path:
    """reports/report.html: a written summary, the headline table, per-protocol tables, the most
    confused pairs, figures, and links to the executed notebooks."""
    from qd.evaluate import load_metrics
    rows = load_metrics(reports_dir) if (reports_dir / "metrics").is_dir() else []
    models = [r for r in rows if "test_acc" in r]
    # a model evaluated by several notebooks on one protocol (DoodleNet) counts once
    models = list({(r["model"], r["protocol"]): r for r in models}.values())
    confused = [r for r in rows if r["notebook"].endswith("_confused")]
    facts = [r for r in rows if "test_acc" not in r and not r["notebook"].endswith("_confused")]
    head_rows, protocols = headline(models)
    head_cols = [("model", "model")] + [(f"test_acc {p}", PROTOCOL_TITLES.get(p, p)) for p in protocols]
    details = []
    for p in protocols:
        group = sorted((r for r in models if r["protocol"] == p), key=lambda r: _model_key(r["model"]))
        n = group[0]
        details.append(f"<h3>{html.escape(PROTOCOL_TITLES.get(p, p))}: {n['classes']} classes, "
                       f"{n['test']:,} test drawings</h3>{_table(group, DETAIL_COLS)}")
    conf_html = ""
    for p in dict.fromkeys(r.get("protocol", "") for r in confused):
        group = [r for r in confused if r.get("protocol", "") == p]
        cols = [(k, k.replace("_", " ")) for k in group[0] if k not in ("notebook", "protocol")]
        conf_html += f"<h3>{html.escape(PROTOCOL_TITLES.get(p, p))}</h3>{_table(group, cols)}"
    fact_tables = []
    for nb in dict.fromkeys(r["notebook"] for r in facts):
        group = [r for r in facts if r["notebook"] == nb]
        keys = list(dict.fromkeys(k for r in group for k in r if k != "notebook"))
        fact_tables.append(f"<h3>{html.escape(nb)}</h3>{_table(group, [(k, k.replace('_', ' ')) for k in keys])}")
    figs = []
    for name, caption in FIGURES:
        p = reports_dir / "figures" / f"{name}.png"
        if p.is_file():
            b64 = base64.b64encode(p.read_bytes()).decode()
            figs.append(f'<figure><img src="data:image/png;base64,{b64}" alt="{html.escape(caption)}">'
                        f'<figcaption>{html.escape(caption)}</figcaption></figure>')
    links = "".join(f'<li><a href="{n}.html">{n}</a> ({seconds[n]:.0f} s)</li>' for n in NOTEBOOKS
                    if n in seconds and (reports_dir / f"{n}.html").is_file())
    best = _best_lines(models)
    banner = ""
    if failure:
        banner = (f'<p class="fail"><b>This run FAILED:</b> {html.escape(failure)}<br>Figures below come only from '
                  "the notebooks that finished in this run; do not read them as a full report.</p>")
    elif quick:
        banner = '<p class="fail"><b>Quick run (tiny parameters): the figures are not meaningful.</b></p>'
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>Quick, Draw! report</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.4}}
table{{border-collapse:collapse;font-size:13px;margin:6px 0 14px}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}
th{{background:#f3f3f3}}td:first-child{{text-align:left}}figure{{display:inline-block;margin:8px;vertical-align:top}}
img{{max-width:520px}}.fail{{background:#fde8e8;border:1px solid #d88;padding:8px}}.small{{font-size:12px;color:#555}}</style>
</head><body>
<h1>Quick, Draw! doodle recognition: report</h1>
{banner}
<h2>Summary</h2>
<p>We train classifiers for Google's Quick, Draw! doodles (28x28 bitmaps) on the real drawings bundled
with the project, on three protocols, each a seeded, stratified 70/30 split with at most 3000 drawings
per class: the <b>reference</b> project's recipe on 10 bundled classes, the <b>13 classes</b> bundled
first (kept for continuity), and all <b>40 bundled classes</b> (smaller classes whole). The models: a
random forest on pixels, the reference project's MLP and one-conv CNN, our MLP, and our CNN (three
convolution stages with batch norm; test-time flip averaging "+ TTA"). The demo uses our CNN trained
on 40 classes. Next to every figure stands <b>DoodleNet</b> (ml5's public 345-class CNN) on the same
test drawings, 345-way and restricted to our classes. Notebook 06 feeds the bundled <b>stroke</b> drawings
of all 345 classes to our CNN, from scratch and pretrained on the 40 bitmap classes (<code>make report-strokes</code>
adds 64x64 renders, order/time channels and a 1-D conv + GRU over the points, on 25 and 345 classes).</p>
{best}
<h2>Headline: test accuracy</h2>{_table(head_rows, head_cols)}
<p class="small">* DoodleNet trained on the first 50,000 drawings of every class; most bundled drawings are early
rows of the official files, so it may have seen these very test drawings: its figures are upper bounds.
† The reference project's own figures (85% / 89%) are on its own 10 classes, only two of which (eye, star)
are bundled; our "reference protocol" is its recipe on 10 bundled classes.</p>
<h2>Per protocol</h2>
<p class="small">Accuracy = top-1 on the held-out 30%; top-3 = the right class among the first three; MAP@3 =
the Kaggle challenge's score (1, 1/2, 1/3 for a right first, second, third guess); balanced accuracy =
the mean of per-class accuracies (classes differ in size). Times on this machine's CPU; "one drawing" =
one image at a time, as in the demo.</p>
{"".join(details) or "<p>no model results</p>"}
<h2>Most confused class pairs (our CNN)</h2>{conf_html or "<p>none recorded</p>"}
<h2>Figures</h2>{"".join(figs)}
<h2>Other figures</h2>{"".join(fact_tables) or "<p>none</p>"}
<h2>Executed notebooks</h2><ul>{links}</ul>
<p class="small">Generated {time.strftime("%Y-%m-%d %H:%M")} by <code>python -m qd.pipeline{" --quick" if quick else ""}</code>
in {sum(seconds.values()):.0f} s. Data: Quick, Draw! by Google, CC BY 4.0 (see data/README.md).
DoodleNet: ml5, MIT licence (data/peers/doodlenet).</p>
</body></html>"""
    return atomic.write_text(reports_dir / "report.html", doc)


def _best_lines(models: list[dict]) -> str:
    """Two sentences: our best model and DoodleNet restricted, per protocol."""
    out = []
    for p in PROTOCOL_ORDER:
        ours = [r for r in models if r["protocol"] == p and not r["model"].startswith("DoodleNet")]
        peer = [r for r in models if r["protocol"] == p and r["model"] == "DoodleNet, restricted to our classes"]
        if ours:
            b = max(ours, key=lambda r: r["test_acc"])
            line = f"{PROTOCOL_TITLES[p]}: our best, {html.escape(b['model'])}, {fmt('acc', b['test_acc'])}"
            if peer:
                line += f"; DoodleNet restricted to our classes {fmt('acc', peer[0]['test_acc'])} (upper bound*)"
            out.append(f"<li>{line}.</li>")
    return f"<ul>{''.join(out)}</ul>" if out else ""


# ----------------------------------------------------------------------------- running

def run(quick: bool = False, reports_dir: Path | None = None, only: list[str] | None = None,
        progress: bool = True, overrides: dict[str, dict] | None = None, models_dir: Path | None = None) -> Path:
    """Run the notebooks in order, then write the report. `overrides`: extra parameters per notebook.
    `models_dir`: where notebooks save models (default: models/, or reports_dir/models for --quick)."""
    reports_dir = Path(reports_dir or REPORTS_DIR)
    names = only or NOTEBOOKS
    overrides = overrides or {}
    unknown = [n for n in names if n not in NOTEBOOKS]
    if unknown:
        raise PipelineError(f"no notebook {', '.join(unknown)}; the notebooks: {', '.join(NOTEBOOKS)}")
    check_overrides(names, overrides)
    try:
        atomic.ensure_writable_dir(reports_dir, "reports folder")
        if models_dir is None and quick:
            models_dir = reports_dir / "models"     # a quick run never replaces the demo's model
        if models_dir is not None:
            atomic.ensure_writable_dir(models_dir, "models folder")
    except QDError as e:
        raise PipelineError(str(e)) from e
    seconds: dict[str, float] = {}
    try:
        for name in tqdm(names, desc="notebooks", disable=not progress):
            t = time.perf_counter()
            tqdm.write(f"running {name} ...")
            params = {**(QUICK.get(name, {}) if quick else {}), **overrides.get(name, {})}
            if models_dir is not None and "models_dir" in notebook_parameters(name):
                params.setdefault("models_dir", str(models_dir))
            out = run_notebook(name, reports_dir, params, progress)
            to_html(out)
            seconds[name] = time.perf_counter() - t
            tqdm.write(f"{name} done in {seconds[name]:.0f} s")
    except PipelineError as e:
        write_report(reports_dir, seconds, quick, failure=str(e))
        raise
    atomic.write_text(reports_dir / "timings.json", json.dumps(seconds, indent=1))
    return write_report(reports_dir, seconds, quick)


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
    p = argparse.ArgumentParser(prog="python -m qd.pipeline", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny parameters (a couple of minutes)")
    p.add_argument("--reports-dir", default=None, help=f"default: {REPORTS_DIR}")
    p.add_argument("--models-dir", default=None, help="where notebooks save models (default: models/; "
                   "with --quick: REPORTS_DIR/models)")
    p.add_argument("--only", nargs="+", help=f"run only these notebooks ({', '.join(NOTEBOOKS)})")
    p.add_argument("-p", "--param", action="append", default=[], metavar="NOTEBOOK.NAME=VALUE",
                   help="set a notebook parameter, e.g. -p 04_cnn.epochs=3 (repeatable)")
    a = p.parse_args(argv)
    try:
        overrides: dict[str, dict] = {}
        for text in a.param:
            nb, key, value = parse_param(text)
            overrides.setdefault(nb, {})[key] = value
        out = run(a.quick, Path(a.reports_dir) if a.reports_dir else None, a.only, overrides=overrides,
                  models_dir=Path(a.models_dir) if a.models_dir else None)
    except (PipelineError, QDError) as e:
        print(f"pipeline stopped: {e}", file=sys.stderr)
        return 1
    print(f"report: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
