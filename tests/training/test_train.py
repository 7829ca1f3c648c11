"""`python -m qd.training.train`: trains and saves; refuses bad settings before training."""

import pytest

from qd import QDError
from qd.training import train


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
    with pytest.raises(QDError, match=r"a file: --out folder is not writable"):
        train.main(["--epochs", "1", "--out", str(blocker / "m.pt")])


def test_cli_refuses_a_folder_as_out_before_training(tmp_path):
    with pytest.raises(QDError, match=r"--out .* is a folder"):
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
