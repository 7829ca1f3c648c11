"""DoodleNet, ported from its TF.js files to PyTorch by our own code."""
import json
from pathlib import Path

import numpy as np
import pytest

from qd import QDError
from qd.models import doodlenet
from qd.report import metrics

FIXTURE = Path(__file__).parent.parent / "fixtures" / "doodlenet_expected_outputs.npz"


@pytest.fixture(scope="module")
def net():
    return doodlenet.load()


def test_port_reproduces_the_reference_outputs(net):
    model, names = net
    z = np.load(FIXTURE)
    probs = doodlenet.predict_proba(model, z["images"])
    assert probs.shape == (64, 345)
    np.testing.assert_allclose(probs, z["probs"], atol=1e-5, rtol=0)
    assert len(names) == 345 and "smiley face" in names and "The Eiffel Tower" in names


def test_restricted_evaluation_on_a_hand_made_case():
    names = ["dog", "cat", "smiley_face", "house"]
    classes = ["cat", "smiley face"]             # ours, in our order
    probs = np.array([[0.50, 0.30, 0.20, 0.00],  # 345-way: dog (wrong); restricted: cat (right)
                      [0.10, 0.20, 0.60, 0.10],  # smiley face both ways (right)
                      [0.00, 0.45, 0.05, 0.50],  # 345-way: house; restricted: cat (wrong, true is smiley)
                      [0.00, 0.10, 0.40, 0.50]])
    y = np.array([0, 1, 1, 1])
    r = doodlenet.restrict(probs, names, classes)
    np.testing.assert_allclose(r[0], [0.6, 0.4])
    np.testing.assert_allclose(r.sum(1), 1)
    assert r.argmax(1).tolist() == [0, 1, 0, 1]
    assert metrics.topk_accuracy(r, y) == 0.75
    full = doodlenet.to_ours(probs, names, classes)  # our classes first, the rest after
    assert full.shape == (4, 4) and full.argmax(1).tolist() == [2, 1, 3, 3]
    assert metrics.topk_accuracy(full, y) == 0.25
    with pytest.raises(QDError, match="no class 'cannon'"):
        doodlenet.columns(names, ["cat", "cannon"])


def test_a_broken_model_folder_is_a_qderror(tmp_path):
    with pytest.raises(QDError, match="model.json"):
        doodlenet.load(tmp_path)
    src = doodlenet.DOODLENET_DIR
    for name in ("model.json", "class_names.txt"):
        (tmp_path / name).write_bytes((src / name).read_bytes())
    (tmp_path / "group1-shard1of1.bin").write_bytes((src / "group1-shard1of1.bin").read_bytes()[:-4])
    with pytest.raises(QDError, match="shards hold"):
        doodlenet.load(tmp_path)


def _copy(tmp_path, change=None, names=None):
    """A copy of the bundled DoodleNet folder with `change(model.json dict)` applied."""
    src = doodlenet.DOODLENET_DIR
    d = tmp_path / "net"
    d.mkdir()
    spec = json.loads((src / "model.json").read_text())
    if change:
        change(spec)
    (d / "model.json").write_text(json.dumps(spec))
    (d / "class_names.txt").write_text(names if names is not None else (src / "class_names.txt").read_text())
    (d / "group1-shard1of1.bin").write_bytes((src / "group1-shard1of1.bin").read_bytes())
    return d


def test_a_shard_path_outside_the_model_folder_is_refused(tmp_path):
    """(issue 24, point 7) '../../etc/hostname' was followed, and only its size complained about."""
    (tmp_path / "secret").write_bytes(b"x" * 64)

    def escape(spec):
        spec["weightsManifest"][0]["paths"] = ["../secret"]
    with pytest.raises(QDError, match=r"weight shard path '../secret' points outside"):
        doodlenet.load(_copy(tmp_path, escape))


@pytest.mark.parametrize("change,names,message", [
    (lambda spec: spec["modelTopology"]["model_config"]["config"].update(layers=[]), None, "lists no layers"),
    (lambda spec: spec["modelTopology"]["model_config"]["config"]["layers"][0]["config"].pop("batch_input_shape"),
     None, "broken layer or weight entry"),
    (None, "cat\ncat\n", "names 'cat' more than once"),
])
def test_a_broken_topology_is_a_qderror(tmp_path, change, names, message):
    """(issue 24, point 11) an empty layer list was an IndexError."""
    with pytest.raises(QDError, match=message):
        doodlenet.load(_copy(tmp_path, change, names))
