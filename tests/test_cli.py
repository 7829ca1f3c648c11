"""How a benchmark's command line ends: one JSON line, a form for people, or the error's message."""
import json

from qd import QDError
from qd.cli import print_result


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
