"""The in-memory training loop: it learns, and the same seed trains the same model."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from qd import QDError
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


def test_ema_keeps_the_moving_average_of_the_weights_step_by_step(tiny_split):
    """`ema`: the weights kept are the exponential moving average of each step's weights (batch-norm
    statistics too), against the average computed here from plain runs stopped after 1, 2 and 3
    steps (one step an epoch, a constant learning rate: the same steps whatever the length)."""
    sp = tiny_split
    X, y = sp.X_train[:48], sp.y_train[:48]
    base = config.TrainConfig(model="cnn", epochs=1, batch_size=48, augment="flip", schedule="constant", seed=3,
                              model_kw={"width": 8})

    def weights(epochs, ema=0.0):
        m = architectures.build("cnn", 3, seed=3, width=8, dropout=base.dropout)
        loop.fit(m, X, y, replace(base, epochs=epochs, ema=ema), progress=False)
        return {k: v.double() for k, v in m.state_dict().items() if v.is_floating_point()}

    steps = [weights(n) for n in (1, 2, 3)]
    d = 0.7
    expected = steps[0]
    for w in steps[1:]:
        expected = {k: d * expected[k] + (1 - d) * w[k] for k in w}
    got = weights(3, ema=d)
    for k in expected:
        np.testing.assert_allclose(got[k].numpy(), expected[k].numpy(), rtol=1e-5, atol=1e-6, err_msg=k)
    assert any(not np.allclose(got[k].numpy(), steps[-1][k].numpy()) for k in got)    # not the last step's
    with pytest.raises(QDError, match="ema must be in"):
        replace(base, ema=1.0).validate()


def test_swa_keeps_the_average_of_the_weights_after_the_schedule_with_batch_norm_measured_again(tiny_split):
    """`swa_epochs`: the weights kept are the mean of those at the end of each epoch after the
    schedule, against plain runs stopped after 2 and 3 epochs (one step an epoch, the swa lr the
    constant schedule's own: the same steps); the batch-norm statistics are those of the averaged
    weights on the training images."""
    sp = tiny_split
    X, y = sp.X_train[:48], sp.y_train[:48]
    base = config.TrainConfig(model="cnn", epochs=1, batch_size=48, augment="flip", schedule="constant", seed=3,
                              lr=1e-3, swa_lr=1e-3, model_kw={"width": 8})

    def trained(epochs, swa_epochs=0):
        m = architectures.build("cnn", 3, seed=3, width=8, dropout=base.dropout)
        loop.fit(m, X, y, replace(base, epochs=epochs, swa_epochs=swa_epochs), progress=False)
        return m

    def params(m):
        return {k: v.detach().double() for k, v in m.named_parameters()}

    ends = [params(trained(n)) for n in (2, 3)]
    got = trained(1, swa_epochs=2)
    for k, v in params(got).items():
        np.testing.assert_allclose(v.numpy(), ((ends[0][k] + ends[1][k]) / 2).numpy(), rtol=1e-5, atol=1e-6, err_msg=k)
    bn = next(mod for mod in got.modules() if isinstance(mod, torch.nn.BatchNorm2d))
    seen = []
    hook = bn.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].detach()))
    with torch.no_grad():
        got(architectures.to_tensor(X))
    hook.remove()
    torch.testing.assert_close(bn.running_mean, seen[0].mean((0, 2, 3)), rtol=1e-4, atol=1e-5)
    with pytest.raises(QDError, match="ema must be 0 when swa_epochs"):
        replace(base, ema=0.9, swa_epochs=2).validate()
    with pytest.raises(QDError, match="swa_epochs must be >= 0"):
        replace(base, swa_epochs=-1).validate()


MIX_CFG = config.TrainConfig(model="cnn", epochs=2, batch_size=32, augment="flip", model_kw={"width": 8})


def losses_with(sp, **settings) -> list:
    """The training losses of two epochs of a small CNN with these settings."""
    m = architectures.build("cnn", 3, width=8, dropout=MIX_CFG.dropout)
    return loop.fit(m, sp.X_train, sp.y_train, replace(MIX_CFG, **settings), sp.X_test, sp.y_test, progress=False).train_loss


def test_mixup_blends_each_image_with_a_partner_and_takes_both_labels(tiny_split):
    sp = tiny_split
    x = torch.from_numpy(sp.X_train[:16].astype(np.float32) / 255)[:, None]
    mixed, partner, lam = loop.mixup(x, 0.4, np.random.default_rng(0), torch.Generator().manual_seed(0))
    assert 0 < lam < 1 and sorted(partner.tolist()) == list(range(16))
    torch.testing.assert_close(mixed, lam * x + (1 - lam) * x[partner])
    runs = [losses_with(sp, mixup=mix) for mix in (0.0, 0.4, 0.4)]
    assert runs[1] == runs[2] and runs[1] != runs[0]        # seeded, and it does change the training
    with pytest.raises(QDError, match="mixup must be in"):
        replace(MIX_CFG, mixup=-1.0).validate()


def test_cutmix_pastes_one_box_of_each_partner_and_gives_lam_its_true_share(tiny_split):
    """Image i is filled with the value i + 1, so each pasted pixel tells whose it is: every image
    keeps its own value outside one box, the same box for all, and holds its partner's inside it;
    lam is the share of its own pixels. Trained with it, the run is seeded and differs from none."""
    n, h, w = 8, 28, 28
    x = torch.arange(1, n + 1, dtype=torch.float32)[:, None, None, None].expand(n, 1, h, w).contiguous()
    boxes = set()
    for seed in range(20):
        out, partner, lam = loop.cutmix(x, 1.0, np.random.default_rng(seed), torch.Generator().manual_seed(seed))
        assert sorted(partner.tolist()) == list(range(n)) and 0 <= lam <= 1
        theirs = out != x
        for i in range(n):
            if partner[i] != i:                      # a partner of its own shows no box
                assert set(out[i].unique().tolist()) <= {i + 1.0, float(partner[i]) + 1}
                assert theirs[i].float().mean().item() == pytest.approx(1 - lam)
        box = theirs[partner != torch.arange(n)].any(0)[0]
        rows, cols = box.any(1).nonzero().flatten(), box.any(0).nonzero().flatten()
        if len(rows):                                # one rectangle, filled
            assert box[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].all() and box.sum() == len(rows) * len(cols)
            boxes.add((rows[0].item(), cols[0].item(), len(rows), len(cols)))
    assert len(boxes) > 10                           # placed and sized anew each time
    sp = tiny_split
    runs = [losses_with(sp, cutmix=mix) for mix in (0.0, 1.0, 1.0)]
    assert runs[1] == runs[2] and runs[1] != runs[0]
    with pytest.raises(QDError, match="cutmix must be in"):
        replace(MIX_CFG, cutmix=-1.0).validate()
    with pytest.raises(QDError, match="mixup must be 0 when cutmix"):
        replace(MIX_CFG, cutmix=1.0, mixup=0.2).validate()


def test_distillation_follows_the_teacher_not_the_labels(tiny_split):
    """`distill=1`: the loss is the teacher's alone. A teacher that calls every apple a star (and so
    on round the three classes) makes a student that does too, against the labels it was given."""
    sp = tiny_split
    shifted = (sp.y_train + 1) % 3
    teacher = np.full((len(shifted), 3), 0.05, np.float32)
    teacher[np.arange(len(shifted)), shifted] = 0.9
    cfg = config.TrainConfig(model="cnn", epochs=3, batch_size=32, augment="none", model_kw={"width": 8},
                             distill=1.0, distill_temperature=2.0)
    m = architectures.build("cnn", 3, width=8, dropout=cfg.dropout)
    loop.fit(m, sp.X_train, sp.y_train, cfg, progress=False, teacher=teacher)
    said = infer.predict_proba(m, sp.X_test).argmax(1)
    assert (said == (sp.y_test + 1) % 3).mean() > 0.8
    assert (said == sp.y_test).mean() < 0.1


def test_distillation_needs_a_teacher_of_the_right_shape(tiny_split):
    sp = tiny_split
    cfg = config.TrainConfig(model="cnn", epochs=1, augment="none", model_kw={"width": 8})
    m = architectures.build("cnn", 3, width=8, dropout=cfg.dropout)
    teacher = np.full((len(sp.y_train), 3), 1 / 3, np.float32)
    with pytest.raises(QDError, match="needs both teacher probabilities and distill > 0"):
        loop.fit(m, sp.X_train, sp.y_train, replace(cfg, distill=0.5), progress=False)
    with pytest.raises(QDError, match="needs both"):
        loop.fit(m, sp.X_train, sp.y_train, cfg, progress=False, teacher=teacher)
    with pytest.raises(QDError, match=r"must be \(N, classes\)"):
        loop.fit(m, sp.X_train, sp.y_train, replace(cfg, distill=0.5), progress=False, teacher=teacher[:-1])
    with pytest.raises(QDError, match="distill must be in"):
        replace(cfg, distill=1.5).validate()
    with pytest.raises(QDError, match="teacher probabilities give 4 classes, the model answers 3"):
        loop.fit(m, sp.X_train, sp.y_train, replace(cfg, distill=0.5), progress=False,
                 teacher=np.full((len(sp.y_train), 4), 0.25, np.float32))
