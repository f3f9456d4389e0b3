"""Input hardening, property-based: random shapes, dtypes, values and corrupt bytes give either a
correct result or one of the documented exceptions (ImageError for images, ModelLoadError for
models), never another crash, and never a partial output file."""
from __future__ import annotations

import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from portrait_mobile.runtime import effects
from portrait_mobile.errors import ImageError, ModelLoadError
from portrait_mobile.runtime import Segmenter, read_image, to_rgb_uint8
from portrait_mobile.runtime.cli import main as cli_main
from portrait_mobile.runtime.image_input import decode_image, exif_orientation

from support.runtime_models import red_person

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])



DTYPES = st.sampled_from([np.uint8, np.uint16, np.int8, np.int16, np.int32, np.int64, np.float16, np.float32,
                          np.float64, np.bool_, np.complex64])
SHAPES = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=9)


def _array(dtype: type, shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(dtype, shape)  # floats include NaN, inf and out-of-range values


arrays = st.tuples(DTYPES, SHAPES).flatmap(lambda t: _array(*t))


@SETTINGS
@given(arr=arrays)
def test_segment_random_arrays(seg: Segmenter, arr: np.ndarray) -> None:
    valid = arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3 and arr.shape[0] > 0 and arr.shape[1] > 0
    try:
        prob = seg.segment(arr)
    except ImageError:
        assert not valid
        return
    assert valid
    assert prob.shape == arr.shape[:2] and prob.dtype == np.float32
    assert np.isfinite(prob).all() and prob.min() >= 0 and prob.max() <= 1


@SETTINGS
@given(arr=arrays, bgr=st.booleans())
def test_to_rgb_uint8_random_arrays(seg: Segmenter, arr: np.ndarray, bgr: bool) -> None:
    try:
        rgb = to_rgb_uint8(arr, bgr=bgr)
    except ImageError as e:
        assert str(e)
        return
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.shape[:2] == arr.shape[:2]
    assert seg.segment(rgb).shape == arr.shape[:2]
    for name in effects.EFFECTS:  # effects accept what segment returns
        effects.apply_effect(name, rgb, seg.segment(rgb))


def _encoded_sample() -> list[bytes]:
    img, _ = red_person(24, 20)
    out = []
    for ext in (".png", ".jpg", ".bmp", ".webp", ".tiff"):
        ok, buf = cv2.imencode(ext, img)
        if ok:
            out.append(buf.tobytes())
    return out


ENCODED = _encoded_sample()
# Real headers (format magic, sizes) followed by random bytes reach the decoders, not only the sniffing.
PREFIXES = [b""] + [e[:n] for e in ENCODED for n in (8, 24, 64)]


@SETTINGS
@given(prefix=st.sampled_from(PREFIXES), data=st.binary(max_size=2048), exif=st.booleans())
def test_decode_random_bytes(prefix: bytes, data: bytes, exif: bool) -> None:
    """Random bytes, alone or after a real header: a valid image or one ImageError line naming the source."""
    try:
        img = decode_image(prefix + data, exif=exif, source="blob")
    except ImageError as e:
        msg = str(e)
        assert msg.startswith("blob: ") and "\n" not in msg and len(msg) < 300, msg
        return
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3 and img.size > 0


def test_decode_real_files_with_trailing_bytes() -> None:
    """The other side of the property above: every real encoding decodes, junk after it or not."""
    assert len(ENCODED) >= 4
    rng = np.random.default_rng(0)
    for enc in ENCODED:
        for tail in (b"", rng.integers(0, 256, 64, dtype=np.uint8).tobytes()):
            img = decode_image(enc + tail)
            assert img.shape == (24, 20, 3)


@SETTINGS
@given(idx=st.integers(0, len(ENCODED) - 1), cut=st.integers(0, 4000),
       flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8))
def test_decode_corrupted_real_files(idx: int, cut: int, flips: list[tuple[int, int]]) -> None:
    """Truncated and bit-flipped PNG/JPEG/BMP/WebP/TIFF files: an image or an ImageError."""
    b = bytearray(ENCODED[idx][:cut])
    for pos, val in flips:
        if b:
            b[pos % len(b)] = val
    try:
        img = decode_image(bytes(b))
    except ImageError:
        return
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    assert exif_orientation(bytes(b)) in range(1, 9)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=512), suffix=st.sampled_from([".onnx", ".tflite", ".pt", ".bin"]),
       tfl3=st.booleans())
def test_model_files_that_are_not_models(tmp_path: Path, data: bytes, suffix: str, tfl3: bool) -> None:
    if tfl3:  # pass the TFLite identifier check, so LiteRT's own verifier is exercised
        data = data[:4].ljust(4, b"\0") + b"TFL3" + data[4:]
    p = tmp_path / f"m{suffix}"
    p.write_bytes(data)
    with pytest.raises(ModelLoadError):
        Segmenter.from_file(p)


def test_truncated_real_model(tiny_model: Path, tmp_path: Path) -> None:
    data = tiny_model.read_bytes()
    for n in (1, 10, len(data) // 2, len(data) - 1):
        p = tmp_path / f"cut{n}.onnx"
        p.write_bytes(data[:n])
        with pytest.raises(ModelLoadError):
            Segmenter.from_file(p)
    with pytest.raises(ModelLoadError, match="not found"):
        Segmenter.from_file(tmp_path / "nothing.tflite")
    with pytest.raises(ModelLoadError):
        Segmenter.from_file(tmp_path)  # a folder


@pytest.mark.parametrize("bad", [None, "photo.jpg", [[1, 2, 3]], np.array(5, np.uint8)])
def test_non_arrays_and_scalars(seg: Segmenter, bad: object) -> None:
    with pytest.raises(ImageError):
        seg.segment(bad)  # type: ignore[arg-type]


def test_specific_inputs(seg: Segmenter) -> None:
    one = np.full((1, 1, 3), 255, np.uint8)
    assert seg.segment(one).shape == (1, 1)
    assert seg.segment(np.zeros((1, 5000, 3), np.uint8)).shape == (1, 5000)
    with pytest.raises(ImageError, match="empty"):
        seg.segment(np.zeros((0, 10, 3), np.uint8))
    with pytest.raises(ImageError, match="NaN"):
        to_rgb_uint8(np.full((4, 4, 3), np.nan, np.float32))
    with pytest.raises(ImageError, match=r"\[0, 1\]"):
        to_rgb_uint8(np.full((4, 4, 3), 200.0))
    with pytest.raises(ImageError, match="to_rgb_uint8"):
        seg.segment(np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(ImageError, match="rotation"):
        seg.segment(np.zeros((4, 4, 3), np.uint8), rotation=45)
    # Explicit conversions: 16-bit, gray, RGBA, BGR.
    img, _ = red_person(30, 20)
    np.testing.assert_array_equal(to_rgb_uint8(img.astype(np.uint16) * 257), img)
    np.testing.assert_array_equal(to_rgb_uint8(np.dstack([img, np.full((30, 20), 7, np.uint8)])), img)
    np.testing.assert_array_equal(to_rgb_uint8(img[..., ::-1], bgr=True), img)
    assert to_rgb_uint8(img[..., 0]).shape == (30, 20, 3)
    assert to_rgb_uint8(img.astype(np.float32) / 255).dtype == np.uint8


def test_read_image_files(tmp_path: Path) -> None:
    img, _ = red_person(30, 20)
    # 16-bit PNG with alpha, grayscale PNG
    rgba16 = np.dstack([img, np.full((30, 20), 255, np.uint8)]).astype(np.uint16) * 257
    cv2.imwrite(str(tmp_path / "a16.png"), cv2.cvtColor(rgba16, cv2.COLOR_RGBA2BGRA))
    np.testing.assert_array_equal(read_image(tmp_path / "a16.png"), img)
    cv2.imwrite(str(tmp_path / "g.png"), img[..., 1])
    assert read_image(tmp_path / "g.png").shape == (30, 20, 3)
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.png").write_text("not an image at all")
    for name, msg in [("empty.jpg", "empty"), ("text.png", "not an image"), ("missing.png", "not found")]:
        with pytest.raises(ImageError, match=msg):
            read_image(tmp_path / name)
    with pytest.raises(ImageError, match="not a file"):
        read_image(tmp_path)
    # Pixels the runtime cannot take: the error names the file (a folder run must say which one).
    cv2.imwrite(str(tmp_path / "bright.tiff"), np.full((8, 8, 3), 2.0, np.float32))
    cv2.imwrite(str(tmp_path / "int32.tiff"), np.full((8, 8), 7, np.int32))
    for name, msg in [("bright.tiff", "values in"), ("int32.tiff", "dtype")]:
        with pytest.raises(ImageError, match=rf"{name}: .*{msg}"):
            read_image(tmp_path / name)


def test_very_large_image_is_not_blown_up(seg: Segmenter) -> None:
    """8000x6000: the model sees a resized copy; beyond the returned float32 mask (192 MB), the
    segmentation allocates little (no float copy of the 144 MB image)."""
    img = np.zeros((6000, 8000, 3), np.uint8)
    img[2000:4000, 3000:5000, 0] = 255
    mask_bytes = 6000 * 8000 * 4
    tracemalloc.start()
    try:
        prob = seg.segment(img)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert prob.shape == (6000, 8000) and prob.dtype == np.float32
    assert prob[3000, 4000] > 0.9 and prob[100, 100] < 0.1
    assert peak < mask_bytes + 200_000_000, f"peak {peak / 1e6:.0f} MB"


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=0, max_size=300), effect=st.sampled_from(effects.EFFECTS))
def test_cli_corrupt_inputs_write_nothing(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory,
                                          data: bytes, effect: str) -> None:
    d = tmp_path_factory.mktemp("cli")
    src = d / "in.jpg"
    src.write_bytes(data)
    out = d / "out"
    rc = cli_main([str(src), "--model", str(tiny_model), "--effect", effect, "--out", str(out), "-q"])
    files = list(out.iterdir()) if out.exists() else []
    if rc == 0:
        assert [f.name for f in files] == [f"in_{effect}.png"]
    else:
        assert rc == 1 and files == []


# --- decompression bombs: refused from the header, before decoding ----------------------------------

def _png_claiming(width: int, height: int) -> bytes:
    """A real 1x1 PNG whose IHDR says width x height (CRC fixed): a bomb's header, without the bomb."""
    import struct
    import zlib

    ok, buf = cv2.imencode(".png", np.zeros((1, 1, 3), np.uint8))
    b = bytearray(buf.tobytes())
    assert b[12:16] == b"IHDR"
    b[16:24] = struct.pack(">II", width, height)
    b[29:33] = struct.pack(">I", zlib.crc32(bytes(b[12:29])))
    return bytes(b)


def _jpeg_claiming(width: int, height: int) -> bytes:
    import struct

    ok, buf = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))
    b = bytearray(buf.tobytes())
    i = b.index(b"\xff\xc0")  # SOF0: length, precision, height, width
    b[i + 5:i + 9] = struct.pack(">HH", height, width)
    return bytes(b)


@pytest.mark.parametrize("make", [_png_claiming, _jpeg_claiming])
def test_bombs_are_refused_before_decoding(make, tmp_path: Path) -> None:
    """issue 13: a 20000x20000 PNG was decoded (38 s, 3.1 GB) before being refused."""
    import time

    path = tmp_path / "bomb.img"
    path.write_bytes(make(20000, 20000))
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(ImageError, match=r"20000x20000 = 400,000,000 pixels, more than the limit of 120,000,000"):
            read_image(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - t0 < 2.0 and peak < 5_000_000


def test_pixel_limit_is_a_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    img, _ = red_person(24, 20)
    path = tmp_path / "small.png"
    cv2.imwrite(str(path), img)
    assert read_image(path).shape == (24, 20, 3)
    with pytest.raises(ImageError, match="more than the limit of 100"):
        read_image(path, max_pixels=100)
    monkeypatch.setenv("PORTRAIT_MAX_PIXELS", "400")
    with pytest.raises(ImageError, match="480 pixels, more than the limit of 400 .*PORTRAIT_MAX_PIXELS"):
        read_image(path)
    with pytest.raises(ImageError, match="more than the limit of 400"):
        to_rgb_uint8(np.zeros((24, 20, 3), np.uint8))
    assert read_image(path, max_pixels=480).shape == (24, 20, 3)
    monkeypatch.setenv("PORTRAIT_MAX_PIXELS", "lots")
    with pytest.raises(ImageError, match="PORTRAIT_MAX_PIXELS must be a positive integer"):
        read_image(path)


def test_cli_refuses_a_bomb_in_one_line(tiny_model: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_claiming(20001, 20000))
    good = tmp_path / "good.png"
    cv2.imwrite(str(good), red_person(24, 20)[0])
    out = tmp_path / "out"
    rc = cli_main([str(bomb), str(good), "--model", str(tiny_model), "--effect", "mask", "--out", str(out), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1 and "more than the limit" in err[0] and err[0].startswith("portrait-segment: error:")
    assert sorted(p.name for p in out.iterdir()) == ["good_mask.png"]
