"""`python -m qd.training.train`: trains and saves; refuses bad settings before training."""
import subprocess
import sys

import numpy as np
import pytest

from qd import QDError
from qd.models import architectures
from qd.training import config, loop, train


def test_cli_trains_and_saves(tmp_path, capsys):
    out = tmp_path / "cli.pt"
    metrics = train.main(["--model", "mlp", "--epochs", "2", "--classes", "cat,fish", "--per-class", "200",
                          "--optimizer", "sgd", "--lr", "0.05", "--dropout", "0.1", "--weight-decay", "0",
                          "--out", str(out)])
    assert out.is_file() and metrics["train"] == 280 and metrics["test"] == 120
    assert metrics["test_acc"] > 0.7
    assert '"checkpoint"' in capsys.readouterr().out
    with pytest.raises(SystemExit):
        train.main(["--model", "nope"])


def test_cli_checks_out_is_writable_before_training(tmp_path, monkeypatch):
    blocker = tmp_path / "a file"           # a path through a file cannot be written, even by root
    blocker.write_text("x")
    monkeypatch.setattr(train, "train_model", lambda *a, **kw: pytest.fail("trained before checking --out"))
    with pytest.raises(QDError, match=r"a file: --out's folder is not writable"):
        train.main(["--epochs", "1", "--out", str(blocker / "m.pt")])


def test_cli_refuses_a_folder_as_out_before_training(tmp_path):
    with pytest.raises(QDError, match=r"--out is a folder"):
        train.main(["--epochs", "1", "--out", str(tmp_path)])


@pytest.mark.parametrize("flag,value,message", [
    ("--lr", "-1", "lr must be > 0"), ("--lr", "nan", "lr must be > 0"),
    ("--dropout", "2", r"dropout must be in \[0, 1\)"), ("--weight-decay", "-1", "weight_decay must be >= 0"),
    ("--label-smoothing", "2", r"label_smoothing must be in \[0, 1\)"), ("--batch-size", "0", "batch_size must be >= 1"),
    ("--batch-size", "-1", "batch_size must be >= 1"), ("--epochs", "0", "epochs must be >= 1"),
    ("--per-class", "1", "--per-class must be >= 2"),
])
def test_cli_refuses_bad_settings_before_training(flag, value, message, tmp_path):
    with pytest.raises(QDError, match=message):
        train.main([flag, value, "--out", str(tmp_path / "m.pt")])
    assert not (tmp_path / "m.pt").exists()


# ----------------------------------------------------------------------------- reliability, round two

def test_the_cli_offers_only_models_it_can_train(capsys):
    with pytest.raises(SystemExit):
        train.main(["--model", "rnn", "--epochs", "1"])
    assert "invalid choice: 'rnn'" in capsys.readouterr().err
    with pytest.raises(QDError, match="model 'rnn' takes stroke sequences"):
        loop.fit(architectures.build("rnn", 2), np.zeros((4, 28, 28), np.uint8), np.array([0, 1, 0, 1]),
                 config.TrainConfig(model="rnn", epochs=1))


@pytest.mark.parametrize("args,message", [
    (["--seed", "-1"], "seed must be a whole number in 0..2\\*\\*32-1"),
    (["--seed", "1" * 20], "seed must be a whole number"),
    (["--classes", ""], "names no class"),
    (["--classes", ",,"], "names no class"),
    (["--classes", "cat,../bitmaps/star"], "bad class name '../bitmaps/star'"),
])
def test_bad_seeds_and_class_lists_are_refused(args, message, tmp_path):
    with pytest.raises(QDError, match=message):
        train.main(["--epochs", "1", "--per-class", "20", "--out", str(tmp_path / "m.pt"), *args])
    assert not (tmp_path / "m.pt").exists()


def test_divergent_training_stops_and_saves_nothing(tmp_path):
    with pytest.raises(QDError, match="training diverged"):
        train.main(["--model", "mlp", "--optimizer", "sgd", "--lr", "1e6", "--epochs", "3", "--classes", "cat,fish",
                    "--per-class", "100", "--out", str(tmp_path / "m.pt")])
    assert not (tmp_path / "m.pt").exists()


def test_an_interrupted_run_says_what_was_kept(tmp_path):
    script = ("import qd.training.loop as loop\n"
              "def stop(*a, **kw): raise KeyboardInterrupt\n"
              "loop.train_model = stop\n"
              "import runpy, sys; sys.argv = ['x', '--epochs', '1']\n")
    out = subprocess.run([sys.executable, "-c", script + "runpy.run_module('qd.training.train', run_name='__main__')"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "interrupted: nothing was saved" in out.stderr and "Traceback" not in out.stderr


def test_divergence_the_loss_does_not_show_stops_the_run_and_keeps_the_old_file(tmp_path):
    """(issue 24, point 1) SGD at lr 1e6 on few drawings: the training loss stays finite while the
    batch-norm statistics blow up, and the run used to exit 0 with a model that answers NaN."""
    out = tmp_path / "m.pt"
    out.write_bytes(b"the previous model")
    proc = subprocess.run([sys.executable, "-m", "qd.training.train", "--optimizer", "sgd", "--lr", "1e6",
                           "--epochs", "2", "--classes", "cat,fish,star", "--per-class", "30", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr[-500:]
    assert "training diverged" in proc.stderr and "Traceback" not in proc.stderr
    assert out.read_bytes() == b"the previous model"
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]


@pytest.mark.parametrize("setting", [{"epochs": 40.0}, {"batch_size": 32.0}, {"epochs": True}])
def test_counts_that_are_not_whole_numbers_are_refused_before_training(setting):
    """`epochs=40.0` passed the checks and failed deep in torch's OneCycleLR ("Expected positive
    integer total_steps, but got 3240.0"): refused with the setting's name."""
    name = next(iter(setting))
    with pytest.raises(QDError, match=f"{name} must be >= 1, a whole number"):
        config.TrainConfig(**setting).validate()
