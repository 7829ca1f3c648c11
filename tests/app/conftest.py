"""The demo's logic tested in this process sees a quiet machine: how busy this one is while the tests
run (other tests, a slow CI box) must not change how often a pen's moves are guessed. The crowded
case has its own tests, which say so."""
import pytest

from qd.app import canvas


@pytest.fixture(autouse=True)
def quiet_machine(monkeypatch):
    monkeypatch.setattr(canvas, "machine_busy", lambda: 0.0)
