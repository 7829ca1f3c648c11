"""Every figure the notebooks show. Each function returns a matplotlib Figure with a title,
labelled axes and class names; `save` writes it under reports/figures/."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np

from qd import atomic
from qd.paths import REPORTS_DIR

CMAP = "gray_r"  # show ink dark on white, as people draw; the data is ink bright on black


def save(fig, name: str, reports_dir: str | Path | None = None) -> Path:
    p = Path(reports_dir or REPORTS_DIR) / "figures" / f"{name}.png"
    return atomic.write_with(p, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))


def _off(ax):
    ax.set_xticks([])
    ax.set_yticks([])


def class_grid(X: np.ndarray, title: str, n: int = 50, cols: int = 10):
    """The first n images of one class in a grid (the reference's 50-example grids)."""
    n = min(n, len(X))
    rows = max(1, -(-n // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 0.9 + 0.5), squeeze=False, layout="constrained")
    for i, ax in enumerate(axes.flat):
        _off(ax)
        if i < n:
            ax.imshow(X[i], cmap=CMAP, vmin=0, vmax=255)
        else:
            ax.axis("off")
    fig.suptitle(title)
    return fig


def examples_by_class(X, y, classes, n: int = 10, title: str = "Examples per class"):
    """One row per class, n examples each, class names on the left."""
    fig, axes = plt.subplots(len(classes), n, figsize=(n * 0.8, len(classes) * 0.85 + 0.5), squeeze=False, layout="constrained")
    for r, c in enumerate(classes):
        idx = np.flatnonzero(y == r)[:n]
        for k, ax in enumerate(axes[r]):
            _off(ax)
            if k < len(idx):
                ax.imshow(X[idx[k]], cmap=CMAP, vmin=0, vmax=255)
        axes[r, 0].set_ylabel(c, rotation=0, ha="right", va="center")
    fig.suptitle(title)
    return fig


def mean_images(X, y, classes, title: str = "Mean image per class"):
    """The pixel-wise mean of each class's images (computed per class)."""
    cols = min(len(classes), 7)
    rows = -(-len(classes) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.6, rows * 1.8 + 0.4), squeeze=False, layout="constrained")
    for i, ax in enumerate(axes.flat):
        _off(ax)
        if i < len(classes):
            ax.imshow(X[y == i].mean(axis=0), cmap=CMAP)
            ax.set_title(f"{classes[i]} (n={int((y == i).sum())})", fontsize=9)
        else:
            ax.axis("off")
    fig.suptitle(title)
    return fig


def image_rows(rows: dict, title: str, vmax: float = 255):
    """Rows of images, each row labelled with its name (augmentations, official vs ours, ...)."""
    n = max(len(v) for v in rows.values())
    fig, axes = plt.subplots(len(rows), n, figsize=(n * 0.95, len(rows) * 1.0 + 0.5), squeeze=False, layout="constrained")
    for r, (name, imgs) in enumerate(rows.items()):
        for k, ax in enumerate(axes[r]):
            _off(ax)
            if k < len(imgs):
                ax.imshow(imgs[k], cmap=CMAP, vmin=0, vmax=vmax)
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center")
    fig.suptitle(title)
    return fig


def box(values: dict, title: str, ylabel: str, xlabel: str = "class"):
    """One box per named series (e.g. ink per image, by class)."""
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(values) + 2), 3.8))
    ax.boxplot(list(values.values()), showfliers=False)
    ax.set_xticks(range(1, len(values) + 1), list(values), rotation=45, ha="right")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return fig


def bars(values, labels, title: str, xlabel: str, ylabel: str = "class", fmt: str = "{:.3f}", ax=None,
         highlight: int | None = None):
    """Horizontal bar chart, largest first at the top, values written at the bar ends."""
    values = np.asarray(values, dtype=float)
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 0.35 * len(values) + 1.2))
    colors = ["tab:orange" if i == highlight else "tab:blue" for i in range(len(values))]
    ax.barh(range(len(values)), values, color=colors)
    ax.set_yticks(range(len(values)), labels)
    ax.invert_yaxis()
    for i, v in enumerate(values):
        ax.text(v, i, " " + fmt.format(v), va="center", fontsize=8)
    ax.set_xlim(0, max(values.max() * 1.15, 1e-9))
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return fig or ax.figure


def probability_bars(probs, classes, k: int = 5, title: str = "Class probabilities", ax=None):
    """Top-k class probabilities of one drawing."""
    order = np.argsort(-np.asarray(probs))[:k]
    return bars(np.asarray(probs)[order], [classes[i] for i in order], title, "probability", ax=ax, fmt="{:.0%}")


def learning_curves(histories: dict, title: str = "Learning curves", eval_label: str = "test"):
    """Accuracy per epoch: dashed train, solid eval, one colour per run."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, (name, h) in enumerate(histories.items()):
        c = f"C{i}"
        ax.plot(h.epoch, h.train_acc, "--", color=c, label=f"{name} train")
        ax.plot(h.epoch, h.eval_acc, "-o", ms=3, color=c, label=f"{name} {eval_label}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def accuracy_vs_data(sizes, curves: dict, title: str, peers: dict | None = None):
    """Test accuracy against training drawings per class (log x), one line per model; `peers`
    draws horizontal reference lines (e.g. DoodleNet restricted, an upper bound)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, (name, accs) in enumerate(curves.items()):
        ax.plot(sizes, 100 * np.asarray(accs), "-o", color=f"C{i}", label=name)
        for x, a in zip(sizes, accs):
            ax.annotate(f"{100 * a:.1f}", (x, 100 * a), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    for j, (name, acc) in enumerate((peers or {}).items()):
        ax.axhline(100 * acc, ls=":", color=f"C{len(curves) + j}", label=f"{name}: {100 * acc:.1f}%")
    ax.set_xscale("log")
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())     # only the sizes measured
    ax.set_xlabel("training drawings per class")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return fig


def heatmap(table, row_labels, col_labels, title: str, xlabel: str, ylabel: str, fmt: str = "{:.3f}",
            cmap: str = "viridis"):
    table = np.asarray(table, dtype=float)
    fig, ax = plt.subplots(figsize=(1.2 * len(col_labels) + 2, 0.8 * len(row_labels) + 1.5))
    im = ax.imshow(table, cmap=cmap)
    ax.set_xticks(range(len(col_labels)), [str(c) for c in col_labels])
    ax.set_yticks(range(len(row_labels)), [str(r) for r in row_labels])
    for (i, j), v in np.ndenumerate(table):
        ax.text(j, i, fmt.format(v), ha="center", va="center",
                color="white" if v < np.nanmean(table) else "black", fontsize=9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.colorbar(im, ax=ax, shrink=0.8)
    return fig


def confusion(cm: np.ndarray, classes, title: str = "Confusion matrix (row-normalised)"):
    cmn = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(0.55 * len(classes) + 2.5, 0.55 * len(classes) + 2))
    im = ax.imshow(cmn, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=60, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    for (i, j), v in np.ndenumerate(cmn):
        if v >= 0.01:
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v > 0.5 else "black")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, shrink=0.8)
    return fig


def misclassified(X, y, pred, probs, classes, n: int = 24, cols: int = 8, title: str = "Most confident mistakes"):
    """The wrong predictions the model was surest of, labelled 'true -> predicted (p)'."""
    wrong = np.flatnonzero(pred != y)
    wrong = wrong[np.argsort(-probs[wrong, pred[wrong]])][:n]
    rows = max(1, -(-len(wrong) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.35, rows * 1.55 + 0.4), squeeze=False, layout="constrained")
    for ax in axes.flat:
        _off(ax)
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong):
        ax.axis("on")
        ax.imshow(X[i], cmap=CMAP, vmin=0, vmax=255)
        ax.set_title(f"{classes[y[i]]}\n→ {classes[pred[i]]} ({probs[i, pred[i]]:.0%})", fontsize=7)
    fig.suptitle(title)
    return fig


def histograms(series: dict, title: str, xlabel: str, bins=30, log: bool = False):
    """Overlaid histograms, one per named series (e.g. strokes per drawing by class)."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for name, v in series.items():
        ax.hist(v, bins=bins, alpha=0.5, label=name, log=log)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("drawings")
    ax.set_title(title)
    if len(series) > 1:
        ax.legend(fontsize=8)
    return fig


def scree(explained_ratio, title: str = "PCA scree plot (fit on train only)", mark: int | None = None):
    r = np.asarray(explained_ratio)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(np.arange(1, len(r) + 1), r, label="per component")
    ax2 = ax.twinx()
    ax2.plot(np.arange(1, len(r) + 1), np.cumsum(r), color="C1", label="cumulative")
    ax2.set_ylabel("cumulative explained variance")
    ax2.set_ylim(0, 1.02)
    if mark:
        ax.axvline(mark, color="gray", ls=":", label=f"{mark} components")
    ax.set_xlabel("principal component")
    ax.set_ylabel("explained variance ratio")
    ax.set_title(title)
    fig.legend(loc="center right", fontsize=8, bbox_to_anchor=(0.88, 0.5))
    return fig


# ----------------------------------------------------------------------------- the game (notebook 07)

def won_by_class(rates: dict, title: str, order: list[str] | None = None):
    """Share of rounds won per class, one bar per player side by side. `rates`: {player: {class: rate}}."""
    players = list(rates)
    classes = order or sorted(set().union(*[set(r) for r in rates.values()]))
    fig, ax = plt.subplots(figsize=(8, 0.22 * len(classes) * max(1, len(players)) / 2 + 1.2), layout="constrained")
    h = 0.8 / len(players)
    for i, p in enumerate(players):
        ax.barh(np.arange(len(classes)) + i * h, [rates[p].get(c, np.nan) for c in classes], height=h, label=p)
    ax.set_yticks(np.arange(len(classes)) + h * (len(players) - 1) / 2, classes)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set_xlabel("rounds won")
    ax.set_ylabel("prompt")
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title(title)
    return fig


def _share_curves(fig, ax, x_max: float, xlabel: str, ylabel: str, title: str):
    """The frame of a game curve: a share (0-100%) up the side, a grid, the legend bottom right."""
    ax.set_xlim(0, x_max)
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title)
    return fig


def won_by_time(seconds: dict, title: str, limit: float = 20.0):
    """The share of all rounds won by each second of the round, one curve per player. `seconds`:
    {player: array of seconds to win, nan for a round lost}."""
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    t = np.linspace(0, limit, 201)
    for p, s in seconds.items():
        s = np.asarray(s, float)
        ax.plot(t, [(s <= x).sum() / len(s) for x in t], label=f"{p} ({np.isfinite(s).mean():.0%})")
    return _share_curves(fig, ax, limit, "seconds since the first stroke began", "rounds won so far", title)


def known_by_share(shares, curves: dict, title: str):
    """Top-1 accuracy against the share of the strokes drawn, one curve per player."""
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    for p, acc in curves.items():
        ax.plot(np.asarray(shares), acc, "o-", label=p)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    return _share_curves(fig, ax, 1.02, "share of the drawing's strokes drawn", "top guess is the right class", title)


def replay_strips(strips: list, title: str, cols: int = 8):
    """Small multiples of replayed rounds: one row per drawing, its image at each guess with the
    guess under it. `strips`: [(row label, [image, ...], [caption, ...], [won at this guess, ...])]."""
    cols = min(cols, max(len(s[1]) for s in strips))
    fig, axes = plt.subplots(len(strips), cols, figsize=(cols * 1.25, len(strips) * 1.55 + 0.4), squeeze=False,
                             layout="constrained")
    for r, (label, images, captions, won) in enumerate(strips):
        for k, ax in enumerate(axes[r]):
            _off(ax)
            if k < len(images):
                ax.imshow(images[k], cmap=CMAP, vmin=0, vmax=255)
                ax.set_xlabel(captions[k], fontsize=7, color="green" if won[k] else "black")
                if won[k]:
                    for sp in ax.spines.values():
                        sp.set_edgecolor("green")
                        sp.set_linewidth(2)
            else:
                ax.axis("off")
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(title)
    return fig


def reliability(curves: dict, title: str, bins: int = 10):
    """Reliability diagram: accuracy against confidence in equal bins, one curve per (label:
    (probabilities (N, C), labels (N,))); the diagonal is perfect calibration."""
    fig, ax = plt.subplots(figsize=(5, 5), layout="constrained")
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfectly calibrated")
    for label, (probs, y) in curves.items():
        conf, right = probs.max(1), probs.argmax(1) == y
        which = np.minimum((conf * bins).astype(int), bins - 1)
        xs = [conf[which == b].mean() for b in range(bins) if (which == b).any()]
        ys = [right[which == b].mean() for b in range(bins) if (which == b).any()]
        ax.plot(xs, ys, "o-", label=label)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence (probability of the top guess)")
    ax.set_ylabel("share of top guesses that are right")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(title)
    return fig
