"""reports/report.html: the written summary (template.html beside this file), the headline table, a
table per protocol, the most confused pairs, the figures and links to the executed notebooks, all
from the metric rows and figures the notebooks wrote."""
from __future__ import annotations

import base64
import html
import time
from pathlib import Path
from string import Template

from qd import atomic
from qd.report.scoring import load_metrics
from qd.report.tables import fmt

TEMPLATE = Template((Path(__file__).parent / "template.html").read_text(encoding="utf-8"))

PROTOCOL_ORDER = ["reference", "13 classes", "40 classes", "25 classes", "345 classes"]
PROTOCOL_TITLES = {"reference": "reference protocol (10 classes)", "13 classes": "13 classes",
                   "40 classes": "40 classes", "25 classes": "strokes, 25 classes",
                   "345 classes": "strokes, 345 classes"}
MODEL_ORDER = ["random forest (pixels)", "random forest (PCA 50)", "reference MLP (Adam)", "reference MLP (SGD)",
               "our MLP", "reference CNN", "our CNN", "our CNN, shipped", "CNN 28x28", "CNN 64x64",
               "CNN order/time channels", "1-D conv + BiGRU", "CNN pretrained on 40 classes", "DoodleNet, 345-way",
               "DoodleNet, restricted to our classes"]
DETAIL_COLS = [("model", "model"), ("test_acc", "accuracy"), ("top3_acc", "top-3"), ("map3", "MAP@3"),
               ("balanced_acc", "balanced accuracy"), ("train", "training drawings"), ("train_s", "training time"),
               ("infer_single_ms", "one drawing"), ("params", "parameters"), ("note", "note")]
FIGURES = [("game_won_by_class", "The game: rounds won per prompt, ours beside Google's game AI, same held-out drawings"),
           ("game_seconds_40", "The game, 40 classes: rounds won by each second"),
           ("game_seconds_345", "The game, 345 classes: rounds won by each second"),
           ("game_known_by_share", "The game: right top guess against the share of strokes drawn"),
           ("game_replays", "The game: a few rounds replayed, the guess at each stroke end"),
           ("game_reliability", "Calibration: the demo model's confidence against its accuracy on partial drawings"),
           ("learning_curve", "Learning curve: more drawings per class, CNN and random forest"),
           ("strokes_345", "Strokes, all 345 classes: the approaches on the same test drawings"),
           ("strokes_learning_curve", "Strokes, all 345 classes: top-1 against training drawings per class"),
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


def write_report(reports_dir: Path, seconds: dict[str, float], quick: bool, notebooks: list[str],
                 failure: str | None = None) -> Path:
    """reports/report.html: a written summary, the headline table, per-protocol tables, the most
    confused pairs, figures, and links to the executed notebooks (`notebooks`, in order)."""
    rows = load_metrics(reports_dir) if (reports_dir / "metrics").is_dir() else []
    models = [r for r in rows if "test_acc" in r]
    # a model evaluated by several notebooks on one protocol (DoodleNet) counts once
    models = list({(r["model"], r["protocol"]): r for r in models}.values())
    confused = [r for r in rows if r["notebook"].endswith("_confused")]
    game = [r for r in rows if r["notebook"] == GAME_NOTEBOOK and str(r.get("protocol", "")).startswith("game, ")]
    facts = [r for r in rows if "test_acc" not in r and not r["notebook"].endswith("_confused") and r not in game]
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
    links = "".join(f'<li><a href="{n}.html">{n}</a> ({seconds[n]:.0f} s)</li>' for n in notebooks
                    if n in seconds and (reports_dir / f"{n}.html").is_file())
    best = _best_lines(models, game)
    banner = ""
    if failure:
        banner = (f'<p class="fail"><b>This run FAILED:</b> {html.escape(failure)}<br>Figures below come only from '
                  "the notebooks that finished in this run; do not read them as a full report.</p>")
    elif quick:
        banner = '<p class="fail"><b>Quick run (tiny parameters): the figures are not meaningful.</b></p>'
    doc = TEMPLATE.substitute(
        banner=banner, best=best, headline=_table(head_rows, head_cols), game=game_table(game),
        details="".join(details) or "<p>no model results</p>", confused=conf_html or "<p>none recorded</p>",
        figures="".join(figs), facts="".join(fact_tables) or "<p>none</p>", links=links,
        generated=time.strftime("%Y-%m-%d %H:%M"), quick_flag=" --quick" if quick else "",
        total_seconds=f"{sum(seconds.values()):.0f}")

    return atomic.write_text(reports_dir / "report.html", doc)


GAME_NOTEBOOK = "07_game"
GAME_COLS = [("protocol", "drawings"), ("model", "player"), ("won", "rounds won"),
             ("median_seconds_to_win", "median seconds to win"), ("false_wins", "wrong-prompt wins"),
             ("rounds", "rounds")]


def game_table(game: list[dict]) -> str:
    """Notebook 07's replay: every player's rounds won and seconds to win, DoodleNet marked."""
    rows = [{**r, "protocol": r["protocol"].removeprefix("game, "),
             "won": fmt("rate", r["won"]), "false_wins": fmt("rate", r.get("false_wins")),
             "median_seconds_to_win": fmt("seconds", r["median_seconds_to_win"]),
             "model": r["model"] + (" (upper bound*)" if r.get("upper_bound") else "")}
            for r in game]
    return _table(rows, GAME_COLS) if rows else "<p>not run</p>"


def _game_line(game: list[dict]) -> str:
    """One sentence: the demo model's rounds won and time, beside Google's, on the demo's vocabulary."""
    demo = [r for r in game if r["model"] == "ours: the demo model"]
    if not demo:
        return ""
    d = demo[0]
    goog = [r for r in game if r["protocol"] == d["protocol"] and r["model"].startswith("Google")]
    line = (f"The game ({d['protocol'].removeprefix('game, ')}, held-out raw drawings replayed at their own pace): "
            f"the demo model won {fmt('rate', d['won'])} of rounds, in a median of {fmt('seconds', d['median_seconds_to_win'])}")
    if goog:
        line += (f"; Google's game AI, on the same drawings, {fmt('rate', goog[0]['won'])} in "
                 f"{fmt('seconds', goog[0]['median_seconds_to_win'])}")
    return f"<li>{line}.</li>"


def _best_lines(models: list[dict], game: list[dict] | None = None) -> str:
    """Two sentences: our best model and DoodleNet restricted, per protocol; and the game."""
    out = [_game_line(game)] if game else []
    out = [x for x in out if x]
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
