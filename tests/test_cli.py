"""How a benchmark's command line ends: one JSON line, a form for people, or the error's message."""
import ast
import json

import pytest

from qd import QDError
from qd.cli import print_result
from qd.paths import ROOT
from qd.training import train


def test_one_json_line_with_bench_else_the_shown_form(capsys):
    assert print_result(lambda: {"won": 0.95, "rounds": 60}, bench=True) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and json.loads(out) == {"won": 0.95, "rounds": 60}
    assert print_result(lambda: {"won": 0.95}, bench=False, show=lambda r: f"won {r['won']:.1%}") == 0
    assert capsys.readouterr().out == "won 95.0%\n"


def test_a_qderror_is_a_message_and_exit_status_1(capsys):
    def fails():
        raise QDError("no held-out drawing of 'dog'")
    assert print_result(fails, bench=True) == 1
    captured = capsys.readouterr()
    assert captured.err == "error: no held-out drawing of 'dog'\n" and captured.out == ""


def test_every_command_line_refuses_an_abbreviated_flag():
    """`--epoch 1` is a typo, not `--epochs 1` (argparse's prefix matching): every parser says so."""
    parsers = []
    for path in sorted((ROOT / "qd").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "ArgumentParser":
                flags = {k.arg: getattr(k.value, "value", None) for k in node.keywords}
                parsers.append((path.name, flags.get("allow_abbrev")))
    assert len(parsers) >= 10 and [name for name, ok in parsers if ok is not False] == []


def test_a_mistyped_flag_stops_before_any_work(capsys):
    with pytest.raises(SystemExit) as e:
        train.main(["--epoch", "1"])
    assert e.value.code == 2 and "unrecognized arguments: --epoch" in capsys.readouterr().err
