"""Every notebook runs headless with tiny parameters (papermill), and the pipeline writes its report."""
import json

import pytest

from qd import evaluate, pipeline
from qd.infer import Predictor

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    reports = tmp_path_factory.mktemp("reports")
    models = tmp_path_factory.mktemp("models")
    report = pipeline.run(quick=True, reports_dir=reports, progress=False,
                          overrides={"04_cnn": {"models_dir": str(models)}})
    return reports, models, report


def test_every_notebook_ran_and_wrote_its_outputs(quick_run):
    reports, _, _ = quick_run
    for name in pipeline.NOTEBOOKS:
        nb = json.loads((reports / f"{name}.ipynb").read_text())
        assert nb["metadata"]["papermill"]["exception"] is None, name
        assert (reports / f"{name}.html").is_file()
        assert (reports / "metrics" / f"{name}.json").is_file(), name
    for fig in pipeline.FIGURES:
        assert (reports / "figures" / f"{fig}.png").stat().st_size > 5000, fig


def test_summary_table_holds_every_model(quick_run):
    reports, _, report = quick_run
    rows = [r for r in evaluate.load_metrics(reports) if "test_acc" in r]
    names = {r["model"] for r in rows}
    assert {"reference MLP (Adam)", "our MLP", "reference CNN", "our CNN", "random forest (pixels)"} <= names
    protocols = {r["protocol"] for r in rows}
    assert any(p.startswith("reference: 10 classes") for p in protocols)
    for r in rows:
        assert 0 <= r["test_acc"] <= r["top3_acc"] <= 1 and r["infer_ms"] > 0 and r["train_s"] > 0
    html = report.read_text()
    for col in ("test_acc", "top3_acc", "train_s", "infer_ms"):
        assert col in html
    assert "our CNN" in html and "data:image/png;base64" in html and "CC BY 4.0" in html


def test_cnn_notebook_saves_a_model_the_demo_loads(quick_run):
    _, models, _ = quick_run
    p = Predictor(models / "cnn.pt")
    assert len(p.classes) == 13 and "test_acc" in p.meta["metrics"]


def test_failing_notebook_stops_the_pipeline_naming_the_cell(tmp_path):
    with pytest.raises(pipeline.PipelineError, match=r"notebook 05_random_forest failed in cell \d+ "
                                                      r"\(QDError: unknown class 'no such class'"):
        pipeline.run(quick=True, reports_dir=tmp_path, only=["05_random_forest"], progress=False,
                     overrides={"05_random_forest": {"classes": ["no such class"]}})
    assert not (tmp_path / "report.html").exists()
