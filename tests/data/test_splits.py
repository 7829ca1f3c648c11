"""Every split: stratified for bitmaps, hashed by key for streams and stroke drawings."""
import json

import numpy as np
import pytest

from qd import QDError
from qd.data import bitmaps, datasets, splits, strokes
from qd.data.ndjson import Drawing


def test_split_is_deterministic_and_stratified():
    b = bitmaps.load_bitmaps(["apple", "cat", "star"], per_class=1000)
    s1, s2 = splits.split(b, seed=0), splits.split(b, seed=0)
    np.testing.assert_array_equal(s1.X_test, s2.X_test)
    np.testing.assert_array_equal(s1.y_train, s2.y_train)
    s3 = splits.split(b, seed=1)
    assert not np.array_equal(s1.y_test, s3.y_test) or not np.array_equal(s1.X_test, s3.X_test)
    assert s1.sizes() == {"train": 2100, "test": 900}
    assert np.bincount(s1.y_test).tolist() == [300, 300, 300]      # 30% of every class
    # no drawing in both parts
    train = {x.tobytes() for x in s1.X_train}
    assert not any(x.tobytes() in train for x in s1.X_test)


def test_validation_split_is_stratified_too():
    b = bitmaps.load_bitmaps(["apple", "cat"], per_class=1000)
    s = splits.split(b, test_size=0.2, val_size=0.1, seed=3)
    assert s.sizes() == {"train": 1400, "test": 400, "val": 200}
    assert np.bincount(s.y_val).tolist() == [100, 100]


@pytest.mark.parametrize("test_size,val_size", [(0, 0), (1.0, 0), (0.5, 0.5), (0.3, -0.1)])
def test_bad_split_fractions(test_size, val_size):
    b = bitmaps.load_bitmaps(["apple"], per_class=10)
    with pytest.raises(QDError, match="bad split fractions"):
        splits.split(b, test_size=test_size, val_size=val_size)


def test_a_split_too_small_for_its_classes_is_a_qderror():
    b = bitmaps.load_bitmaps(["apple", "star", "cat"], per_class=2)
    with pytest.raises(QDError, match="cannot split 6 drawings of 3 classes"):
        splits.split(b, test_size=0.3)


def test_splits_are_seeded_disjoint_and_by_key(tmp_path):
    root = datasets.write_mirror(tmp_path, ["apple", "star", "bird"])
    for kind in ("numpy_bitmap", "simplified"):
        parts = {p: datasets.make(kind, root / kind, part=p, seed=0) for p in ("train", "test", "all")}
        assert len(parts["train"]) + len(parts["test"]) == len(parts["all"])
        assert 0.2 < len(parts["test"]) / len(parts["all"]) < 0.4
        again = datasets.make(kind, root / kind, part="test", seed=0)
        other = datasets.make(kind, root / kind, part="test", seed=1)
        if kind == "numpy_bitmap":
            assert np.array_equal(again.starts, parts["test"].starts)
            assert not np.array_equal(other.starts, parts["test"].starts)
        else:
            assert np.array_equal(again.offsets, parts["test"].offsets)
            assert not np.array_equal(other.offsets, parts["test"].offsets)
    # ndjson: the part is a property of the key_id, not of the line's position
    p = root / "simplified" / "bird.ndjson"
    lines = p.read_text().splitlines()
    test_keys = {json.loads(lines[int(i)])["key_id"] for i in np.searchsorted(
        np.cumsum([0] + [len(x) + 1 for x in lines]), datasets.make("simplified", root / "simplified", ["bird"], part="test").offsets)}
    p.write_text("\n".join(lines[::-1]) + "\n")
    ds = datasets.make("simplified", root / "simplified", ["bird"], part="test")
    starts = np.cumsum([0] + [len(x) + 1 for x in lines[::-1]])
    assert {json.loads(lines[::-1][int(np.searchsorted(starts, o))])["key_id"] for o in ds.offsets} == test_keys


def _drawing(strokes_, key="1"):
    return Drawing(word="x", strokes=[np.asarray(s, np.float32) for s in strokes_], key_id=key)


def test_split_by_key_id_is_seeded_and_keeps_excluded_drawings_out_of_test():
    ss = strokes.collect(["bear", "dog"])
    tr, te = ss.train_test_indices(seed=0)
    assert len(set(tr) & set(te)) == 0 and len(tr) + len(te) == len(ss)
    assert np.array_equal(te, ss.train_test_indices(seed=0)[1]) and not np.array_equal(te, ss.train_test_indices(seed=1)[1])
    twins = strokes.bitmap_twins(ss)                 # dog's first rows are bundled bitmaps too
    assert len(twins) >= 20
    _, te2 = ss.train_test_indices(seed=0, exclude_from_test=twins)
    assert not {ss.drawings[i].key_id for i in te2} & twins


@pytest.mark.parametrize("y", [np.array([0, 1, -1, 1, 0, 1]), np.array([0, 1, 2, 1, 0, 1]), np.array([0., 1, 0, 1, 0, 1])])
def test_labels_outside_the_classes_are_refused(y):
    ds = bitmaps.Bitmaps(np.zeros((6, 28, 28), np.uint8), y, ["a", "b"])
    with pytest.raises(QDError, match="labels must be 6 whole numbers in 0..1"):
        splits.split(ds, test_size=0.5)


@pytest.mark.parametrize("fraction", [1.5, -0.1, float("nan"), "0.3"])
def test_a_test_fraction_outside_0_1_is_refused(fraction):
    """(issue 24, point 11) train_test_indices(test_fraction=1.5) put every drawing in the test part."""
    ss = strokes.collect(["bear"])
    with pytest.raises(QDError, match="test_fraction must be a finite number in"):
        ss.train_test_indices(test_fraction=fraction)
