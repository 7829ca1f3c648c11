"""The pipeline: run notebooks 01-05 in order with papermill, then write one HTML report.

    python -m qd.pipeline            # full parameters (make report)
    python -m qd.pipeline --quick    # tiny parameters, a minute or two (CI, smoke tests)

Executed notebooks go to reports/NN_name.ipynb (and .html), metric rows to reports/metrics/,
figures to reports/figures/, and the summary to reports/report.html. A failing notebook stops the
pipeline with the failing cell and error named.
"""
from __future__ import annotations

import argparse
import base64
import html
import json
import sys
import time
from pathlib import Path

from tqdm.auto import tqdm

from qd import REPORTS_DIR, ROOT

NOTEBOOKS_DIR = ROOT / "notebooks"
NOTEBOOKS = ["01_eda", "02_augmentation", "03_mlp", "04_cnn", "05_random_forest"]

# Small settings for --quick and for tests: every notebook runs end to end on a few hundred images.
QUICK = {
    "01_eda": {"per_class": 300, "n_grid": 10},
    "02_augmentation": {"per_class": 200, "epochs": 1, "presets": ["none", "flip"]},
    "03_mlp": {"per_class": 200, "epochs": 2, "grid_epochs": 1, "dropouts": [0.0, 0.5], "weight_decays": [0.0]},
    "04_cnn": {"per_class": 200, "epochs": 1, "ref_epochs": 1, "width": 8},
    "05_random_forest": {"per_class": 200, "n_estimators": 10, "n_components": 20},
}


class PipelineError(RuntimeError):
    pass


def run_notebook(name: str, reports_dir: Path, parameters: dict | None = None, progress: bool = True) -> Path:
    """Execute notebooks/<name>.ipynb with papermill into reports_dir/<name>.ipynb."""
    import papermill as pm
    out = reports_dir / f"{name}.ipynb"
    params = {"reports_dir": str(reports_dir), **(parameters or {})}
    try:
        pm.execute_notebook(str(NOTEBOOKS_DIR / f"{name}.ipynb"), str(out), parameters=params,
                            kernel_name="python3", cwd=str(NOTEBOOKS_DIR), progress_bar=progress)
    except pm.PapermillExecutionError as e:
        raise PipelineError(f"notebook {name} failed in cell {e.exec_count} ({e.ename}: {e.evalue}); "
                            f"the executed notebook with the error cell is {out}") from e
    return out


def to_html(ipynb: Path) -> Path:
    import nbformat
    from nbconvert import HTMLExporter
    body, _ = HTMLExporter().from_notebook_node(nbformat.read(ipynb, as_version=4))
    out = ipynb.with_suffix(".html")
    out.write_text(body, encoding="utf-8")
    return out


def _fmt(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 1 else f"{v:.1f}"
    return html.escape(str(v))


def _table(rows: list[dict], cols: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(r.get(c, ''))}</td>" for c in cols) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


SUMMARY_COLS = ["model", "protocol", "classes", "train", "test", "test_acc", "top3_acc", "train_s",
                "infer_ms", "infer_single_ms", "params", "notebook"]
FIGURES = ["eda_examples", "eda_mean_images", "aug_effect", "mlp_learning_curves", "mlp_grid",
           "cnn_learning_curves", "cnn_confusion", "cnn_per_class", "cnn_mistakes", "rf_scree"]


def write_report(reports_dir: Path, seconds: dict[str, float], quick: bool) -> Path:
    """reports/report.html: the summary table, other figures, key plots inline, notebook links."""
    from qd.evaluate import load_metrics
    rows = load_metrics(reports_dir)
    models = [r for r in rows if "test_acc" in r]
    facts = [r for r in rows if "test_acc" not in r]
    figs = []
    for name in FIGURES:
        p = reports_dir / "figures" / f"{name}.png"
        if p.is_file():
            b64 = base64.b64encode(p.read_bytes()).decode()
            figs.append(f'<figure><img src="data:image/png;base64,{b64}"><figcaption>{name}</figcaption></figure>')
    links = "".join(f'<li><a href="{n}.html">{n}</a> ({seconds.get(n, 0):.0f} s)</li>' for n in NOTEBOOKS
                    if (reports_dir / f"{n}.html").is_file())
    fact_tables = []
    for nb in dict.fromkeys(r["notebook"] for r in facts):
        group = [r for r in facts if r["notebook"] == nb]
        keys = list(dict.fromkeys(k for r in group for k in r if k != "notebook"))
        fact_tables.append(f"<h3>{html.escape(nb)}</h3>{_table(group, keys)}")
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>Quick, Draw! report</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse;font-size:13px}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}
th{{background:#f3f3f3}}td:first-child{{text-align:left}}figure{{display:inline-block;margin:8px}}
img{{max-width:520px}}</style></head><body>
<h1>Quick, Draw! doodle recognition: report</h1>
<p>{"<b>Quick run (tiny parameters): figures are not meaningful.</b> " if quick else ""}
Generated {time.strftime("%Y-%m-%d %H:%M")} by <code>python -m qd.pipeline{" --quick" if quick else ""}</code>
in {sum(seconds.values()):.0f} s. Test accuracy on held-out drawings; <code>train_s</code> is training
time, <code>infer_ms</code> milliseconds per image in batches of 256, <code>infer_single_ms</code> one image at a time,
all on this machine's CPU.</p>
<h2>Summary</h2>{_table(models, SUMMARY_COLS)}
<h2>Other figures</h2>{"".join(fact_tables) or "<p>none</p>"}
<h2>Plots</h2>{"".join(figs)}
<h2>Executed notebooks</h2><ul>{links}</ul>
<p>Data: Quick, Draw! by Google, CC BY 4.0 (see data/README.md).</p>
</body></html>"""
    out = reports_dir / "report.html"
    out.write_text(doc, encoding="utf-8")
    return out


def run(quick: bool = False, reports_dir: Path | None = None, only: list[str] | None = None,
        progress: bool = True, overrides: dict[str, dict] | None = None) -> Path:
    """Run the notebooks in order, then write the report. `overrides`: extra parameters per notebook."""
    reports_dir = Path(reports_dir or REPORTS_DIR)
    reports_dir.mkdir(parents=True, exist_ok=True)
    seconds = {}
    names = only or NOTEBOOKS
    for name in tqdm(names, desc="notebooks", disable=not progress):
        t = time.perf_counter()
        tqdm.write(f"running {name} ...")
        params = {**(QUICK.get(name, {}) if quick else {}), **(overrides or {}).get(name, {})}
        out = run_notebook(name, reports_dir, params, progress)
        to_html(out)
        seconds[name] = time.perf_counter() - t
        tqdm.write(f"{name} done in {seconds[name]:.0f} s")
    (reports_dir / "timings.json").write_text(json.dumps(seconds, indent=1))
    return write_report(reports_dir, seconds, quick)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m qd.pipeline", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny parameters (a minute or two)")
    p.add_argument("--reports-dir", default=None, help=f"default: {REPORTS_DIR}")
    p.add_argument("--only", nargs="+", choices=NOTEBOOKS, help="run only these notebooks")
    a = p.parse_args(argv)
    try:
        out = run(a.quick, Path(a.reports_dir) if a.reports_dir else None, a.only)
    except PipelineError as e:
        print(f"pipeline stopped: {e}", file=sys.stderr)
        return 1
    print(f"report: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
