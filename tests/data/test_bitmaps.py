"""Bundled bitmaps, official .npy files and the named protocols."""
import hashlib
import io
import unicodedata
import zipfile

import numpy as np
import pytest

from qd import QDDataWarning, QDError
from qd.data import bitmaps, ndjson

BUNDLED_COUNTS = {
    "airplane": 5000, "alarm clock": 4000, "apple": 3000, "banana": 4000, "bee": 498, "bicycle": 3000,
    "bird": 4000, "book": 4000, "bowtie": 5000, "butterfly": 500, "candle": 499, "car": 500, "carrot": 500,
    "cat": 4000, "circle": 5000, "clock": 498, "cloud": 1000, "crown": 5000, "diamond": 3000, "dog": 4000,
    "eye": 3000, "fish": 3000, "flower": 4000, "guitar": 496, "house": 4000, "lollipop": 5000, "octopus": 500,
    "pizza": 500, "rabbit": 500, "rainbow": 5000, "scissors": 500, "skull": 5000, "smiley face": 5000,
    "snowflake": 500, "snowman": 500, "square": 5000, "star": 5000, "tree": 499, "umbrella": 498, "zebra": 500,
}


def test_every_bundled_class_loads_with_its_count():
    assert bitmaps.available_classes() == sorted(BUNDLED_COUNTS)
    b = bitmaps.load_bitmaps(per_class=None)
    assert b.counts() == BUNDLED_COUNTS
    assert b.X.shape == (sum(BUNDLED_COUNTS.values()), 28, 28) and b.X.dtype == np.uint8
    assert b.y.dtype == np.int64 and b.y.max() == len(b.classes) - 1
    assert 0 < b.X.mean() < 100 and b.X.max() == 255  # ink bright on black
    assert len(b) == 105_988 and len(b.classes) == 40


def test_cat_grew_without_changing_its_first_3000_rows():
    """The 13-class protocol caps at 3000: cat's new rows 3000-3999 must not shift the old ones."""
    cat = bitmaps.read_bitmap_file(bitmaps.BITMAP_DIR / "cat.npz")
    assert len(cat) == 4000
    assert hashlib.sha256(cat[:3000].tobytes()).hexdigest() == \
        "c1547cd8657c8a7268eac57c463f43b7fe755b818aeb0ce293085c96df5b83d4"


@pytest.mark.parametrize("name,n_classes,n_test", [("13 classes", 13, 11_700), ("reference", 10, 9_000),
                                                   ("40 classes", 40, 23_397)])
def test_protocols_have_their_published_sizes(name, n_classes, n_test):
    sp = bitmaps.load_protocol(name)
    assert len(sp.classes) == n_classes and len(sp.y_test) == n_test
    # capped at 3000, small classes whole, 30% of every class in the test part
    counts = np.bincount(np.concatenate([sp.y_train, sp.y_test]), minlength=n_classes)
    for c, n in zip(sp.classes, counts):
        assert n == min(3000, BUNDLED_COUNTS[c]), c
    assert abs(len(sp.y_test) / counts.sum() - 0.3) < 1e-3


@pytest.mark.parametrize("name", ["13 classes", "40 classes"])
def test_rows_past_the_cap_are_the_rest_of_each_file_and_in_no_part_of_the_split(name):
    sp, extra = bitmaps.load_protocol(name), bitmaps.past_cap(name)
    assert extra.classes == sp.classes
    for c, n in extra.counts().items():
        assert n == max(0, BUNDLED_COUNTS[c] - 3000), c
    star = bitmaps.read_bitmap_file(bitmaps.BITMAP_DIR / "star.npz")
    np.testing.assert_array_equal(extra.X[extra.y == sp.classes.index("star")], star[3000:])
    # no drawing of the split, test or training, comes back (compared pixel for pixel)
    split_rows = {x.tobytes() for x in np.concatenate([sp.X_train, sp.X_test])}
    assert not any(x.tobytes() in split_rows for x in extra.X)


def test_per_class_cap_takes_first_rows_in_class_order():
    b = bitmaps.load_bitmaps(["star", "eye"], per_class=3000)
    assert b.classes == ["star", "eye"] and b.counts() == {"star": 3000, "eye": 3000}
    star = bitmaps.read_bitmap_file(bitmaps.BITMAP_DIR / "star.npz")
    np.testing.assert_array_equal(b.X[:3000], star[:3000])
    assert (b.y[:3000] == 0).all() and (b.y[3000:] == 1).all()


def test_class_short_of_per_class_warns():
    with pytest.warns(QDDataWarning, match="eye.*3000 drawings, fewer than per_class=4000"):
        b = bitmaps.load_bitmaps(["eye"], per_class=4000)
    assert len(b) == 3000


def test_unknown_class_lists_available():
    with pytest.raises(QDError, match=r"unknown class 'cannon'.*available: airplane, alarm clock, apple"):
        bitmaps.load_bitmaps(["cat", "cannon"])
    with pytest.raises(QDError, match=r"unknown class 'no such thing'"):
        ndjson.strokes_path("no such thing")


@pytest.mark.parametrize("array,message", [
    (np.zeros((5, 783), np.uint8), r"shape is \(5, 783\), expected \(N, 784\)"),
    (np.zeros((5, 28, 27), np.uint8), r"shape is \(5, 28, 27\)"),
    (np.zeros(784, np.uint8), r"shape is \(784,\)"),
    (np.zeros((5, 784), np.float32), r"dtype is float32, expected uint8"),
])
def test_bad_bitmap_arrays(tmp_path, array, message):
    p = tmp_path / "cat.npy"
    np.save(p, array)
    with pytest.raises(QDError, match=rf"cat.npy: {message}"):
        bitmaps.load_bitmaps(["cat"], data_dir=tmp_path)


def test_non_npy_and_bad_npz(tmp_path):
    (tmp_path / "cat.npy").write_text("this is not numpy")
    with pytest.raises(QDError, match=r"cat.npy: not a .npy file"):
        bitmaps.load_bitmaps(["cat"], data_dir=tmp_path)
    np.savez(tmp_path / "dog.npz", images=np.zeros((2, 784), np.uint8))
    with pytest.raises(QDError, match=r"dog.npz: npz has no 'bitmaps' array \(has: images\)"):
        bitmaps.load_bitmaps(["dog"], data_dir=tmp_path)


def test_official_npy_layout_is_read(tmp_path):
    """An official numpy_bitmap file (as downloaded) loads the same as the bundled npz."""
    rows = bitmaps.read_bitmap_file(bitmaps.BITMAP_DIR / "fish.npz", 50).reshape(50, 784)
    np.save(tmp_path / "fish.npy", rows)
    b = bitmaps.load_bitmaps(["fish"], per_class=20, data_dir=tmp_path)
    np.testing.assert_array_equal(b.X, rows[:20].reshape(20, 28, 28))


def _npz_bytes(**arrays):
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def test_corrupt_npz_files_are_qderrors(tmp_path):
    good = _npz_bytes(bitmaps=np.zeros((50, 784), np.uint8))
    # a corrupt deflate stream: flip bytes in the middle of the compressed member
    bad = bytearray(good)
    mid = len(bad) // 2
    bad[mid:mid + 16] = b"\xff" * 16
    (tmp_path / "deflate.npz").write_bytes(bytes(bad))
    # a junk member named like the array
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bitmaps.npy", b"junk, not an array")
    (tmp_path / "junk.npz").write_bytes(buf.getvalue())
    # a header that claims a huge array
    hdr = io.BytesIO()
    np.lib.format.write_array_header_1_0(hdr, {"descr": "|u1", "fortran_order": False, "shape": (10**12, 784)})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bitmaps.npy", b"\x93NUMPY" + hdr.getvalue()[6:] + b"\x00" * 100)
    (tmp_path / "huge.npz").write_bytes(buf.getvalue())
    for name in ("deflate", "junk", "huge"):
        with pytest.raises(QDError, match=rf"{name}.npz: not a valid numpy file"):
            bitmaps.read_bitmap_file(tmp_path / f"{name}.npz")


# ----------------------------------------------------------------------------- reliability, round two

def test_a_corrupt_byte_in_an_npy_header_is_a_qderror(tmp_path):
    p = tmp_path / "cat.npy"
    np.save(p, np.zeros((5, 784), np.uint8))
    raw = bytearray(p.read_bytes())
    raw[raw.index(b"'descr'") + 1] = ord("(")
    p.write_bytes(bytes(raw))
    with pytest.raises(QDError, match="cat.npy: not a valid numpy file"):
        bitmaps.read_bitmap_file(p)


def test_an_error_page_saved_as_npy_is_named_not_unpickled(tmp_path):
    (tmp_path / "cat.npy").write_text("<!DOCTYPE html><html>Service unavailable</html>")
    with pytest.raises(QDError, match=r"not a .npy file \(it starts with '<!DOCTYPE html>") as e:
        bitmaps.read_bitmap_file(tmp_path / "cat.npy")
    assert "allow_pickle" not in str(e.value)


@pytest.mark.parametrize("call,message", [
    (lambda: bitmaps.load_bitmaps(["cat"], per_class=2.5), "per_class must be a whole number"),
    (lambda: bitmaps.load_bitmaps(["cat"], per_class=0), "per_class must be a whole number"),
    (lambda: bitmaps.load_bitmaps(["cat", "../bitmaps/star"]), "bad class name '../bitmaps/star'"),
    (lambda: bitmaps.load_bitmaps(""), "no classes given"),
    (lambda: bitmaps.load_bitmaps(",,"), "no classes given"),
    (lambda: bitmaps.load_protocol("13 classes", per_class=0), "per_class must be a whole number"),
    (lambda: bitmaps.past_cap("14 classes"), "unknown protocol '14 classes'"),
    (lambda: bitmaps.read_bitmap_file(bitmaps.BITMAP_DIR / "cat.npz", limit=-2), "limit must be a whole number"),
    (lambda: bitmaps.read_bitmap_file(bitmaps.BITMAP_DIR), "is a folder"),
])
def test_library_misuse_is_named(call, message):
    with pytest.raises(QDError, match=message):
        call()


def test_a_class_name_typed_in_another_unicode_form_is_the_same_class(tmp_path):
    """(issue 24, point 12) 'café' typed as e + combining accent was "unknown class 'café' (available: café)"."""
    nfc, nfd = "caf\u00e9", unicodedata.normalize("NFD", "caf\u00e9")
    np.save(tmp_path / f"{nfc}.npy", np.zeros((5, 784), np.uint8))
    np.save(tmp_path / "tea.npy", np.ones((5, 784), np.uint8))
    for typed in (nfc, nfd):
        b = bitmaps.load_bitmaps(f"{typed},tea", per_class=5, data_dir=tmp_path)
        assert b.classes == [nfc, "tea"] and len(b) == 10
    (tmp_path / f"{nfc}.npy").rename(tmp_path / f"{nfd}.npy")           # a file written by macOS (NFD)
    assert bitmaps.load_bitmaps([nfc, "tea"], per_class=5, data_dir=tmp_path).classes == [nfc, "tea"]


def test_a_file_given_as_the_data_folder_is_called_a_file(tmp_path):
    """(issue 24, point 12) it said 'folder does not exist'."""
    f = tmp_path / "cat.npy"
    np.save(f, np.zeros((5, 784), np.uint8))
    with pytest.raises(QDError, match=r"cat.npy: is a file, expected a folder of <class>.npz"):
        bitmaps.load_bitmaps(["cat"], data_dir=f)
