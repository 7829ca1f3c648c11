"""Every notebook runs headless with tiny parameters (papermill), and the pipeline writes its report."""
import hashlib
import json
import re

import nbformat
import pytest

import qd
from qd.report import html, pipeline, scoring
from qd.training import approaches

pytestmark = pytest.mark.slow


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    reports = tmp_path_factory.mktemp("reports")
    shipped = sorted(qd.MODELS_DIR.glob("*"))
    before = {p.name: _digest(p) for p in shipped} or None
    report = pipeline.run(quick=True, reports_dir=reports, progress=False)
    return reports, report, (before, {p.name: _digest(p) for p in shipped} or None)


def test_every_notebook_ran_and_wrote_its_outputs(quick_run):
    reports, _, _ = quick_run
    for name in pipeline.NOTEBOOKS:
        nb = json.loads((reports / f"{name}.ipynb").read_text())
        assert nb["metadata"]["papermill"]["exception"] is None, name
        assert (reports / f"{name}.html").is_file()
        assert (reports / "metrics" / f"{name}.json").is_file(), name
    for fig, _ in html.FIGURES:
        assert (reports / "figures" / f"{fig}.png").stat().st_size > 5000, fig


def test_every_protocol_has_our_models_and_doodlenet_beside_them(quick_run):
    reports, _, _ = quick_run
    rows = [r for r in scoring.load_metrics(reports) if "test_acc" in r]
    by_protocol = {}
    for r in rows:
        by_protocol.setdefault(r["protocol"], set()).add(r["model"])
        assert 0 <= r["test_acc"] <= r["top3_acc"] <= 1 and 0 <= r["map3"] <= 1
        if not r["model"].startswith("DoodleNet"):           # notebook 06 does not time DoodleNet
            assert r["infer_ms"] > 0
        assert (r["test_acc"] <= r["map3"] <= r["top3_acc"])
    assert set(by_protocol) == {"reference", "13 classes", "40 classes", "25 classes", "345 classes"}
    assert set(approaches.ALL) | {"DoodleNet, 345-way"} <= by_protocol["345 classes"]   # notebook 06, every approach
    dn = {"DoodleNet, 345-way", "DoodleNet, restricted to our classes"}
    assert {"reference MLP (Adam)", "our MLP", "reference CNN", "our CNN, shipped + TTA", "random forest (pixels)"} | dn \
        <= by_protocol["13 classes"]
    assert {"reference CNN", "reference MLP (Adam)", "our MLP", "random forest (pixels)"} | dn <= by_protocol["reference"]
    assert {"our CNN, shipped + TTA"} | dn <= by_protocol["40 classes"]
    shipped = [r for r in rows if r["model"].startswith("our CNN, shipped")]
    assert shipped and all(r["shipped"] and "not trained in this run" in r["note"] for r in shipped)
    for r in rows:
        if r["model"].startswith("DoodleNet"):
            assert "upper bound" in r["note"]


def test_report_reads_like_a_report(quick_run):
    _, report, _ = quick_run
    html = report.read_text()
    assert html.index("<h2>Summary</h2>") < html.index("Headline") < html.index("<h2>Figures</h2>")
    assert "85.0%" in html and "89.0%" in html                     # the reference, as published
    assert "DoodleNet" in html and "upper bound" in html
    assert "Most confused class pairs" in html and "Learning curve" in html
    assert "data:image/png;base64" in html and "CC BY 4.0" in html and "MIT" in html
    text = re.sub(r"<[^>]+>|data:image/png;base64,[^\"]+", " ", html)
    assert not re.search(r"\b0\.\d{4,}", text), re.search(r"\b0\.\d{4,}.{0,40}", text).group(0)
    assert re.search(r"\d+\.\d%", text)


def test_a_run_evaluates_the_shipped_models_and_never_writes_them(quick_run):
    reports, _, (before, after) = quick_run
    assert before == after and before is not None             # models/ untouched
    assert not (reports / "models").exists()


def test_pipeline_kernels_use_ipc_not_tcp(quick_run, capfd):
    """No 'Kernel is running over TCP without encryption' warning, per notebook, on the console."""
    pipeline.run_notebook("02_augmentation", quick_run[0], {**pipeline.QUICK["02_augmentation"], "presets": ["none"]},
                          progress=False)
    assert "without encryption" not in capfd.readouterr().err


def test_kernel_sockets_live_outside_the_notebooks_folder():
    """A killed run must not leave socket files among the notebooks."""
    ip = pipeline.IPCKernelManager().ip
    assert pipeline.IPCKernelManager().transport == "ipc" and ip.startswith("/")
    assert not ip.startswith(str(pipeline.NOTEBOOKS_DIR)) and ip != pipeline.IPCKernelManager().ip


def test_failing_notebook_stops_the_pipeline_and_the_report_says_so(tmp_path):
    (tmp_path / "report.html").write_text("<html>an old, good report</html>")
    with pytest.raises(pipeline.PipelineError, match=r"notebook 05_random_forest failed in cell \d+ "
                                                      r"\(QDError: a stratified split needs at least 2"):
        pipeline.run(quick=True, reports_dir=tmp_path, only=["05_random_forest"], progress=False,
                     overrides={"05_random_forest": {"per_class": 1}})
    html = (tmp_path / "report.html").read_text()
    assert "This run FAILED" in html and "05_random_forest" in html and "an old, good report" not in html


def test_a_dead_kernel_is_the_pipelines_own_error(tmp_path, monkeypatch):
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell("reports_dir = None", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("import os\nos._exit(1)")]
    (tmp_path / "nbs").mkdir()
    nbformat.write(nb, tmp_path / "nbs" / "99_die.ipynb")
    monkeypatch.setattr(pipeline, "NOTEBOOKS_DIR", tmp_path / "nbs")
    monkeypatch.setattr(pipeline, "NOTEBOOKS", ["99_die"])
    with pytest.raises(pipeline.PipelineError, match=r"notebook 99_die: its kernel died"):
        pipeline.run(reports_dir=tmp_path / "r", progress=False)
    assert "This run FAILED" in (tmp_path / "r" / "report.html").read_text()
    assert sorted(p.name for p in (tmp_path / "nbs").iterdir()) == ["99_die.ipynb"]   # no kernel sockets left


# ----------------------------------------------------------------------------- refused before running

def test_misspelled_parameters_fail_naming_the_known_ones(tmp_path):
    with pytest.raises(pipeline.PipelineError, match=r"05_random_forest has no parameter 'n_estimator'; "
                                                      r"its parameters: .*n_estimators"):
        pipeline.run(reports_dir=tmp_path, only=["05_random_forest"], progress=False,
                     overrides={"05_random_forest": {"n_estimator": 5}})
    assert pipeline.main(["--only", "05_random_forest", "-p", "05_random_forest.n_trees=3",
                          "--reports-dir", str(tmp_path)]) == 1
    assert not (tmp_path / "05_random_forest.ipynb").exists()


def test_an_unwritable_reports_dir_is_refused_up_front(tmp_path):
    blocker = tmp_path / "a file"
    blocker.write_text("x")
    with pytest.raises(pipeline.PipelineError, match=r"a file/reports: reports folder is not writable"):
        pipeline.run(reports_dir=blocker / "reports", only=["05_random_forest"], progress=False)


def test_param_parsing():
    assert pipeline.parse_param("04_cnn.epochs=3") == ("04_cnn", "epochs", 3)
    assert pipeline.parse_param("04_cnn.convs=[2, 2, 1]") == ("04_cnn", "convs", [2, 2, 1])
    assert pipeline.parse_param("03_mlp.optimizer=sgd") == ("03_mlp", "optimizer", "sgd")
    with pytest.raises(pipeline.PipelineError, match="expected NOTEBOOK.NAME=VALUE"):
        pipeline.parse_param("epochs=3")
