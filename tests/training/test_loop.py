"""The in-memory training loop: it learns, and the same seed trains the same model."""
import numpy as np

from qd.models import architectures, infer
from qd.training import config, loop


def test_training_on_a_tiny_subset_learns(tiny_split):
    sp = tiny_split
    cfg = config.TrainConfig(model="cnn", epochs=3, batch_size=32, augment="flip", model_kw={"width": 8})
    m = architectures.build("cnn", 3, width=8, dropout=cfg.dropout)
    h = loop.fit(m, sp.X_train, sp.y_train, cfg, sp.X_test, sp.y_test, progress=False)
    assert h.epoch == [1, 2, 3] and len(h.eval_acc) == 3
    assert h.eval_acc[-1] > 0.8          # chance is 1/3
    assert h.train_loss[-1] < h.train_loss[0]


def test_training_is_reproducible(tiny_split):
    sp = tiny_split
    accs = []
    for _ in range(2):
        cfg = config.TrainConfig(model="mlp", epochs=2, augment="all", seed=5)
        m = architectures.build("mlp", 3, dropout=cfg.dropout)
        h = loop.fit(m, sp.X_train, sp.y_train, cfg, sp.X_test, sp.y_test, progress=False)
        accs.append((h.train_loss, h.eval_acc, infer.predict_proba(m, sp.X_test[:20])))
    assert accs[0][0] == accs[1][0] and accs[0][1] == accs[1][1]
    np.testing.assert_array_equal(accs[0][2], accs[1][2])
