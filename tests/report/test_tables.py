"""Numbers as a person reads them (qd.report.tables.fmt)."""
from qd.models.infer import Predictor
from qd.paths import MODELS_DIR
from qd.report.tables import fmt


def test_numbers_are_rounded_for_people():
    assert fmt("test_acc", 0.95324) == "95.3%" and fmt("map3", 0.95324) == "0.953"
    assert fmt("train_s", 12.4) == "12 s" and fmt("infer_single_ms", 0.534) == "0.53 ms" and fmt("test", 12345) == "12,345"
    assert fmt("test_acc", None) == "–" and fmt("test_acc", float("nan")) == "–"


def test_the_shipped_detectors_figures_read_as_percentages_and_counts():
    figures = Predictor(MODELS_DIR / "cnn.pt").meta["metrics"]["unknown"]     # what notebook 04 shows
    shown = {k: fmt(k, v) for k, v in figures.items()}
    assert shown["unknown_held_out_called_unknown"] == f"{100 * figures['unknown_held_out_called_unknown']:.1f}%"
    assert shown["known_right_answers_lost"].endswith("%") and shown["max_lost"] == "4.5%"
    assert shown["unknown_held_out_confident_before"].endswith("%")
    assert shown["held_out_drawings"] == f"{figures['held_out_drawings']:,}" and "%" not in shown["held_out_classes"]
