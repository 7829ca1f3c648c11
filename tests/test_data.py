import gzip
import hashlib
import warnings

import numpy as np
import pytest

from qd import QDDataWarning, QDError, data
from conftest import write_ndjson

# From the data's provenance (data/README.md): 40 classes, 105,988 drawings.
BUNDLED_COUNTS = {
    "airplane": 5000, "alarm clock": 4000, "apple": 3000, "banana": 4000, "bee": 498, "bicycle": 3000,
    "bird": 4000, "book": 4000, "bowtie": 5000, "butterfly": 500, "candle": 499, "car": 500, "carrot": 500,
    "cat": 4000, "circle": 5000, "clock": 498, "cloud": 1000, "crown": 5000, "diamond": 3000, "dog": 4000,
    "eye": 3000, "fish": 3000, "flower": 4000, "guitar": 496, "house": 4000, "lollipop": 5000, "octopus": 500,
    "pizza": 500, "rabbit": 500, "rainbow": 5000, "scissors": 500, "skull": 5000, "smiley face": 5000,
    "snowflake": 500, "snowman": 500, "square": 5000, "star": 5000, "tree": 499, "umbrella": 498, "zebra": 500,
}


def test_every_bundled_class_loads_with_its_count():
    assert data.available_classes() == sorted(BUNDLED_COUNTS)
    b = data.load_bitmaps(per_class=None)
    assert b.counts() == BUNDLED_COUNTS
    assert b.X.shape == (sum(BUNDLED_COUNTS.values()), 28, 28) and b.X.dtype == np.uint8
    assert b.y.dtype == np.int64 and b.y.max() == len(b.classes) - 1
    assert 0 < b.X.mean() < 100 and b.X.max() == 255  # ink bright on black
    assert len(b) == 105_988 and len(b.classes) == 40


def test_cat_grew_without_changing_its_first_3000_rows():
    """The 13-class protocol caps at 3000: cat's new rows 3000-3999 must not shift the old ones."""
    cat = data.read_bitmap_file(data.BITMAP_DIR / "cat.npz")
    assert len(cat) == 4000
    assert hashlib.sha256(cat[:3000].tobytes()).hexdigest() == \
        "c1547cd8657c8a7268eac57c463f43b7fe755b818aeb0ce293085c96df5b83d4"


@pytest.mark.parametrize("name,n_classes,n_test", [("13 classes", 13, 11_700), ("reference", 10, 9_000),
                                                   ("40 classes", 40, 23_397)])
def test_protocols_have_their_published_sizes(name, n_classes, n_test):
    sp = data.load_protocol(name)
    assert len(sp.classes) == n_classes and len(sp.y_test) == n_test
    # capped at 3000, small classes whole, 30% of every class in the test part
    counts = np.bincount(np.concatenate([sp.y_train, sp.y_test]), minlength=n_classes)
    for c, n in zip(sp.classes, counts):
        assert n == min(3000, BUNDLED_COUNTS[c]), c
    assert abs(len(sp.y_test) / counts.sum() - 0.3) < 1e-3


def test_first250_strokes_are_bundled():
    classes = data.stroke_classes("first250")
    assert len(classes) == 25 and "zigzag" in classes and "hot dog" in classes
    ds = data.load_drawings(data.strokes_path("bear", "first250"))
    assert len(ds) == 250 and all(d.word == "bear" for d in ds)
    # the first 25 are the drawings of strokes/simplified (same key_id): dedupe before testing on them
    simplified = data.load_drawings(data.strokes_path("bear", "simplified"))
    assert [d.key_id for d in ds[:25]] == [d.key_id for d in simplified]


def test_per_class_cap_takes_first_rows_in_class_order():
    b = data.load_bitmaps(["star", "eye"], per_class=3000)
    assert b.classes == ["star", "eye"] and b.counts() == {"star": 3000, "eye": 3000}
    star = data.read_bitmap_file(data.BITMAP_DIR / "star.npz")
    np.testing.assert_array_equal(b.X[:3000], star[:3000])
    assert (b.y[:3000] == 0).all() and (b.y[3000:] == 1).all()


def test_class_short_of_per_class_warns():
    with pytest.warns(QDDataWarning, match="eye.*3000 drawings, fewer than per_class=4000"):
        b = data.load_bitmaps(["eye"], per_class=4000)
    assert len(b) == 3000


def test_split_is_deterministic_and_stratified():
    b = data.load_bitmaps(["apple", "cat", "star"], per_class=1000)
    s1, s2 = data.split(b, seed=0), data.split(b, seed=0)
    np.testing.assert_array_equal(s1.X_test, s2.X_test)
    np.testing.assert_array_equal(s1.y_train, s2.y_train)
    s3 = data.split(b, seed=1)
    assert not np.array_equal(s1.y_test, s3.y_test) or not np.array_equal(s1.X_test, s3.X_test)
    assert s1.sizes() == {"train": 2100, "test": 900}
    assert np.bincount(s1.y_test).tolist() == [300, 300, 300]      # 30% of every class
    # no drawing in both parts
    train = {x.tobytes() for x in s1.X_train}
    assert not any(x.tobytes() in train for x in s1.X_test)


def test_validation_split_is_stratified_too():
    b = data.load_bitmaps(["apple", "cat"], per_class=1000)
    s = data.split(b, test_size=0.2, val_size=0.1, seed=3)
    assert s.sizes() == {"train": 1400, "test": 400, "val": 200}
    assert np.bincount(s.y_val).tolist() == [100, 100]


@pytest.mark.parametrize("test_size,val_size", [(0, 0), (1.0, 0), (0.5, 0.5), (0.3, -0.1)])
def test_bad_split_fractions(test_size, val_size):
    b = data.load_bitmaps(["apple"], per_class=10)
    with pytest.raises(QDError, match="bad split fractions"):
        data.split(b, test_size=test_size, val_size=val_size)


# ----------------------------------------------------------------------------- strokes

def test_parse_simplified_format():
    ds = data.load_drawings(data.strokes_path("eye", "simplified"))
    assert len(ds) == 25
    d = ds[0]
    assert d.word == "eye" and d.key_id == "5594014336155648" and d.countrycode == "GB"
    assert d.recognized is True and not d.has_time
    assert all(s.shape[0] == 2 and s.dtype == np.float32 for s in d.strokes)
    pts = np.concatenate(d.strokes, axis=1)
    assert pts.min() == 0 and pts.max() == 255  # simplified: aligned to 0, scaled to 255


def test_parse_raw_format_has_time():
    d = data.load_drawings(data.strokes_path("eye", "raw"), limit=1)[0]
    assert d.has_time and all(s.shape[0] == 3 for s in d.strokes)
    t = np.concatenate([s[2] for s in d.strokes])
    assert t[0] == 0 and (np.diff(t) >= 0).all()  # ms since the first point


def test_bundled_stroke_files_all_parse():
    total = 0
    for kind, n_classes in (("simplified", 344), ("raw", 345)):
        names = data.stroke_classes(kind)
        assert len(names) == n_classes
        for name in names:
            n = sum(1 for _ in data.iter_drawings(data.strokes_path(name, kind)))
            assert n > 0
            total += n
    assert total == 344 * 25 + 9570


def test_plain_and_gzip_ndjson_read_the_same(tmp_path):
    src = data.strokes_path("star", "simplified")
    plain = tmp_path / "star.ndjson"
    plain.write_bytes(gzip.decompress(src.read_bytes()))
    a, b = data.load_drawings(src), data.load_drawings(plain)
    assert [d.key_id for d in a] == [d.key_id for d in b]
    np.testing.assert_array_equal(a[3].strokes[0], b[3].strokes[0])


def test_iter_drawings_streams(tmp_path):
    # a generator: the first drawing comes before a bad line further down is read
    p = write_ndjson(tmp_path / "x.ndjson", [{"word": "a", "drawing": [[[0, 5], [0, 5]]]}, "not json"])
    it = data.iter_drawings(p)
    assert next(it).word == "a"
    with pytest.raises(QDError, match=r"x.ndjson:2: not valid JSON"):
        next(it)


# ----------------------------------------------------------------------------- bad input

GOOD = {"word": "a", "drawing": [[[0, 10, 20], [0, 10, 5]]]}


@pytest.mark.parametrize("line,message", [
    ("{not json", r"bad.ndjson:2: not valid JSON"),
    ({"word": "a"}, r"bad.ndjson:2: no 'drawing' field"),
    ({"word": "a", "drawing": []}, r"bad.ndjson:2: empty drawing"),
    ({"word": "a", "drawing": [[[1, 2], [3]]]}, r"bad.ndjson:2: stroke 0 is not numeric lists of equal length"),
    ({"word": "a", "drawing": [[[1, 2]]]}, r"bad.ndjson:2: stroke 0 must be"),
    ({"word": "a", "drawing": [[[], []]]}, r"bad.ndjson:2: stroke 0 has shape \(2, 0\)"),
    ([1, 2, 3], r"bad.ndjson:2: expected a JSON object"),
])
def test_bad_ndjson_line_names_file_and_line(tmp_path, line, message):
    p = write_ndjson(tmp_path / "bad.ndjson", [GOOD, line, GOOD])
    with pytest.raises(QDError, match=message):
        data.load_drawings(p)


def test_skipping_bad_lines_says_how_many(tmp_path):
    p = write_ndjson(tmp_path / "some_bad.ndjson", [GOOD, "garbage", GOOD, {"word": "x"}, "", GOOD])
    with pytest.warns(QDDataWarning, match=r"some_bad.ndjson: skipped 2 bad line\(s\); first: .*:2: not valid JSON"):
        ds = data.load_drawings(p, on_error="skip")
    assert len(ds) == 3  # the blank line is not a drawing and not an error


def test_clean_file_gives_no_warning(tmp_path):
    p = write_ndjson(tmp_path / "ok.ndjson", [GOOD, GOOD])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(data.load_drawings(p, on_error="skip")) == 2


def test_missing_files(tmp_path):
    with pytest.raises(QDError, match=r"nope.ndjson: file not found"):
        data.load_drawings(tmp_path / "nope.ndjson")
    with pytest.raises(QDError, match=r"nope.npy: file not found"):
        data.read_bitmap_file(tmp_path / "nope.npy")
    with pytest.raises(QDError, match=r"bitmap folder does not exist"):
        data.load_bitmaps(["cat"], data_dir=tmp_path / "missing")


def test_unknown_class_lists_available():
    with pytest.raises(QDError, match=r"unknown class 'cannon'.*available: airplane, alarm clock, apple"):
        data.load_bitmaps(["cat", "cannon"])
    with pytest.raises(QDError, match=r"unknown class 'no such thing'"):
        data.strokes_path("no such thing")


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
        data.load_bitmaps(["cat"], data_dir=tmp_path)


def test_non_npy_and_bad_npz(tmp_path):
    (tmp_path / "cat.npy").write_text("this is not numpy")
    with pytest.raises(QDError, match=r"cat.npy: not a valid numpy file"):
        data.load_bitmaps(["cat"], data_dir=tmp_path)
    np.savez(tmp_path / "dog.npz", images=np.zeros((2, 784), np.uint8))
    with pytest.raises(QDError, match=r"dog.npz: npz has no 'bitmaps' array \(has: images\)"):
        data.load_bitmaps(["dog"], data_dir=tmp_path)


def test_official_npy_layout_is_read(tmp_path):
    """An official numpy_bitmap file (as downloaded) loads the same as the bundled npz."""
    rows = data.read_bitmap_file(data.BITMAP_DIR / "fish.npz", 50).reshape(50, 784)
    np.save(tmp_path / "fish.npy", rows)
    b = data.load_bitmaps(["fish"], per_class=20, data_dir=tmp_path)
    np.testing.assert_array_equal(b.X, rows[:20].reshape(20, 28, 28))
