"""Calibration: ECE against a hand computation, and temperature scaling recovering a known temperature."""
import numpy as np
import pytest

from qd import QDError
from qd.models import calibrate


def test_ece_matches_a_hand_computation():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]])
    y = np.array([0, 0, 0, 0])
    # bins of 0.1: 0.9 right, 0.8 wrong, 0.6 right, 0.7 right -> (0.1 + 0.8 + 0.4 + 0.3) / 4
    assert calibrate.expected_calibration_error(probs, y, bins=10) == pytest.approx(0.4)
    assert calibrate.expected_calibration_error(np.eye(3), np.arange(3)) == 0.0
    with pytest.raises(QDError, match="ECE needs"):
        calibrate.expected_calibration_error(probs, y[:3])


@pytest.mark.parametrize("views", [1, 2])
def test_temperature_scaling_finds_the_temperature_that_made_the_labels(views):
    rng = np.random.default_rng(0)
    z = rng.normal(0, 3, (20000, 10))
    p = calibrate.probabilities(z, 2.0)
    y = (rng.random(len(p))[:, None] > p.cumsum(1)).sum(1)          # labels drawn from softmax(z / 2)
    logits = np.stack([z] * views) if views == 2 else z
    t = calibrate.fit_temperature(logits, y)
    assert t == pytest.approx(2.0, rel=0.1)
    before = calibrate.expected_calibration_error(calibrate.probabilities(logits), y)
    after = calibrate.expected_calibration_error(calibrate.probabilities(logits, t), y)
    assert after < 0.02 < before
    assert (calibrate.probabilities(logits, t).argmax(1) == calibrate.probabilities(logits).argmax(1)).all()
