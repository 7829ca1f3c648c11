"""Stroke drawings from ndjson: both formats, plain and gzipped, bad lines named by file and line."""
import gzip
import json
import os
import warnings

import numpy as np
import pytest
from helpers import write_ndjson

from qd import QDDataWarning, QDError
from qd.data import bitmaps, ndjson

GOOD = {"word": "a", "drawing": [[[0, 10, 20], [0, 10, 5]]]}


def test_first250_strokes_are_bundled():
    classes = ndjson.stroke_classes("first250")
    assert len(classes) == 25 and "zigzag" in classes and "hot dog" in classes
    ds = ndjson.load_drawings(ndjson.strokes_path("bear", "first250"))
    assert len(ds) == 250 and all(d.word == "bear" for d in ds)
    # the first 25 are the drawings of strokes/simplified (same key_id): dedupe before testing on them
    simplified = ndjson.load_drawings(ndjson.strokes_path("bear", "simplified"))
    assert [d.key_id for d in ds[:25]] == [d.key_id for d in simplified]


def test_parse_simplified_format():
    ds = ndjson.load_drawings(ndjson.strokes_path("eye", "simplified"))
    assert len(ds) == 25
    d = ds[0]
    assert d.word == "eye" and d.key_id == "5594014336155648" and d.countrycode == "GB"
    assert d.recognized is True and not d.has_time
    assert all(s.shape[0] == 2 and s.dtype == np.float32 for s in d.strokes)
    pts = np.concatenate(d.strokes, axis=1)
    assert pts.min() == 0 and pts.max() == 255  # simplified: aligned to 0, scaled to 255


def test_parse_raw_format_has_time():
    d = ndjson.load_drawings(ndjson.strokes_path("eye", "raw"), limit=1)[0]
    assert d.has_time and all(s.shape[0] == 3 for s in d.strokes)
    t = np.concatenate([s[2] for s in d.strokes])
    assert t[0] == 0 and (np.diff(t) >= 0).all()  # ms since the first point


def test_bundled_stroke_files_all_parse():
    total = 0
    for kind, n_classes in (("simplified", 344), ("raw", 345)):
        names = ndjson.stroke_classes(kind)
        assert len(names) == n_classes
        for name in names:
            n = sum(1 for _ in ndjson.iter_drawings(ndjson.strokes_path(name, kind)))
            assert n > 0
            total += n
    assert total == 344 * 25 + 9570


def test_plain_and_gzip_ndjson_read_the_same(tmp_path):
    src = ndjson.strokes_path("star", "simplified")
    plain = tmp_path / "star.ndjson"
    plain.write_bytes(gzip.decompress(src.read_bytes()))
    a, b = ndjson.load_drawings(src), ndjson.load_drawings(plain)
    assert [d.key_id for d in a] == [d.key_id for d in b]
    np.testing.assert_array_equal(a[3].strokes[0], b[3].strokes[0])


def test_iter_drawings_streams(tmp_path):
    # a generator: the first drawing comes before a bad line further down is read
    p = write_ndjson(tmp_path / "x.ndjson", [{"word": "a", "drawing": [[[0, 5], [0, 5]]]}, "not json"])
    it = ndjson.iter_drawings(p)
    assert next(it).word == "a"
    with pytest.raises(QDError, match=r"x.ndjson:2: not valid JSON"):
        next(it)


@pytest.mark.parametrize("line,message", [
    ("{not json", r"bad.ndjson:2: not valid JSON"),
    ({"word": "a"}, r"bad.ndjson:2: no 'drawing' field"),
    ({"word": "a", "drawing": []}, r"bad.ndjson:2: empty drawing"),
    ({"word": "a", "drawing": [[[1, 2], [3]]]}, r"bad.ndjson:2: stroke 0 is not rows of numbers of equal length"),
    ({"word": "a", "drawing": [[[1, 2]]]}, r"bad.ndjson:2: stroke 0 must be"),
    ({"word": "a", "drawing": [[[], []]]}, r"bad.ndjson:2: stroke 0 has shape \(2, 0\)"),
    ([1, 2, 3], r"bad.ndjson:2: expected a JSON object"),
])
def test_bad_ndjson_line_names_file_and_line(tmp_path, line, message):
    p = write_ndjson(tmp_path / "bad.ndjson", [GOOD, line, GOOD])
    with pytest.raises(QDError, match=message):
        ndjson.load_drawings(p)


def test_skipping_bad_lines_says_how_many(tmp_path):
    p = write_ndjson(tmp_path / "some_bad.ndjson", [GOOD, "garbage", GOOD, {"word": "x"}, "", GOOD])
    with pytest.warns(QDDataWarning, match=r"some_bad.ndjson: skipped 2 bad line\(s\); first: .*:2: not valid JSON"):
        ds = ndjson.load_drawings(p, on_error="skip")
    assert len(ds) == 3  # the blank line is not a drawing and not an error


def test_clean_file_gives_no_warning(tmp_path):
    p = write_ndjson(tmp_path / "ok.ndjson", [GOOD, GOOD])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(ndjson.load_drawings(p, on_error="skip")) == 2


def test_missing_files(tmp_path):
    with pytest.raises(QDError, match=r"nope.ndjson: file not found"):
        ndjson.load_drawings(tmp_path / "nope.ndjson")
    with pytest.raises(QDError, match=r"nope.npy: file not found"):
        bitmaps.read_bitmap_file(tmp_path / "nope.npy")
    with pytest.raises(QDError, match=r"bitmap folder does not exist"):
        bitmaps.load_bitmaps(["cat"], data_dir=tmp_path / "missing")


STAR = {"word": "star", "drawing": [[[0, 50, 100], [0, 80, 0]], [[0, 100], [40, 40]]]}


def test_a_bad_byte_names_its_own_line_and_can_be_skipped(tmp_path):
    lines = [json.dumps(STAR).encode()] * 60
    lines[49] = lines[49].replace(b'"star"', b'"st\xffr"')
    p = tmp_path / "x.ndjson"
    p.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(QDError, match=r"x.ndjson:50: not UTF-8 \(byte 0xff"):
        ndjson.load_drawings(p)
    with pytest.warns(QDDataWarning, match=r"skipped 1 bad line.*x.ndjson:50"):
        assert len(ndjson.load_drawings(p, on_error="skip")) == 59
    gz = tmp_path / "x.ndjson.gz"
    gz.write_bytes(gzip.compress(p.read_bytes()))
    with pytest.raises(QDError, match=r"x.ndjson.gz:50: not UTF-8"):
        ndjson.load_drawings(gz)


def test_deeply_nested_json_is_a_bad_line_even_in_skip_mode(tmp_path):
    p = write_ndjson(tmp_path / "deep.ndjson", [STAR, "[" * 100_000 + "]" * 100_000, STAR])
    with pytest.raises(QDError, match=r"deep.ndjson:2: JSON nested too deeply"):
        ndjson.load_drawings(p)
    with pytest.warns(QDDataWarning, match="skipped 1"):
        assert len(ndjson.load_drawings(p, on_error="skip")) == 2


def test_a_gigantic_line_is_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(ndjson, "MAX_LINE_BYTES", 1 << 16)
    p = tmp_path / "big.ndjson.gz"
    with gzip.open(p, "wb") as f:
        f.write(json.dumps(STAR).encode() + b"\n")
        f.write(b'{"word": "' + b"x" * (1 << 20) + b'"}\n')
        f.write(json.dumps(STAR).encode() + b"\n")
    with pytest.raises(QDError, match=r"big.ndjson.gz:2: line longer than"):
        ndjson.load_drawings(p)
    with pytest.warns(QDDataWarning, match="skipped 1"):
        ds = ndjson.load_drawings(p, on_error="skip")
    assert [d.source.rsplit(":", 1)[1] for d in ds] == ["1", "3"]


def test_limit_zero_yields_nothing_and_negative_is_refused(tmp_path):
    p = write_ndjson(tmp_path / "s.ndjson", [STAR] * 3)
    assert ndjson.load_drawings(p, limit=0) == []
    assert len(ndjson.load_drawings(p, limit=2)) == 2
    with pytest.raises(QDError, match="limit must be a whole number >= 0"):
        ndjson.load_drawings(p, limit=-1)


def test_skip_mode_warns_when_stopped_early(tmp_path):
    p = write_ndjson(tmp_path / "s.ndjson", ["junk", STAR, STAR, STAR])
    with pytest.warns(QDDataWarning, match=r"skipped 1 bad line.*s.ndjson:1"):
        assert len(ndjson.load_drawings(p, on_error="skip", limit=1)) == 1
    with pytest.warns(QDDataWarning, match=r"skipped 1 bad line"):
        it = ndjson.iter_drawings(p, on_error="skip")
        next(it)
        it.close()                     # the caller stops iterating


# ----------------------------------------------------------------------------- reliability, round two

def test_a_401_digit_number_is_a_bad_line_that_skip_mode_steps_over(tmp_path):
    huge = '{"word": "a", "drawing": [[[0, ' + "9" * 401 + '], [0, 1]]]}'
    p = write_ndjson(tmp_path / "huge.ndjson", [GOOD, huge, GOOD])
    with pytest.raises(QDError, match=r"huge.ndjson:2: stroke 0 holds a number too large"):
        ndjson.load_drawings(p)
    with pytest.warns(QDDataWarning, match="skipped 1 bad line"):
        assert len(ndjson.load_drawings(p, on_error="skip")) == 2


@pytest.mark.parametrize("drawing,message", [({"a": 1}, "'drawing' must be a list of strokes .* got dict"),
                                             (7, "'drawing' must be a list of strokes .* got int"),
                                             ([], "empty drawing")])
def test_a_drawing_that_is_not_a_list_says_so(drawing, message):
    with pytest.raises(QDError, match=message):
        ndjson.parse_drawing({"word": "a", "drawing": drawing}, "f:1")


def test_a_folder_a_device_or_a_pipe_is_named_for_what_it_is(tmp_path):
    with pytest.raises(QDError, match="is a folder"):
        ndjson.load_drawings(tmp_path)
    with pytest.raises(QDError, match="not a regular file"):
        ndjson.load_drawings("/dev/null")
    fifo = tmp_path / "pipe.ndjson"
    os.mkfifo(fifo)
    with pytest.raises(QDError, match="not a regular file"):
        ndjson.load_drawings(fifo)
    with pytest.raises(QDError, match="file not found"):
        ndjson.load_drawings(tmp_path / "nope.ndjson")


@pytest.mark.parametrize("limit", [2.5, "3", True, -1])
def test_limit_is_a_whole_number(limit):
    """(issue 24, point 8) limit=2.5 gave 3 drawings, '3' a TypeError."""
    with pytest.raises(QDError, match="limit must be a whole number"):
        list(ndjson.iter_drawings(ndjson.strokes_path("cat"), limit=limit))
    assert len(ndjson.load_drawings(ndjson.strokes_path("cat"), limit=np.int64(2))) == 2
