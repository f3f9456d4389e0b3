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

from portrait_mobile import effects
from portrait_mobile.errors import ImageError, ModelLoadError
from portrait_mobile.runtime import Segmenter, read_image, to_rgb_uint8
from portrait_mobile.runtime.cli import main as cli_main
from portrait_mobile.runtime.image_input import decode_image, exif_orientation

from runtime_fixtures import red_person

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


@SETTINGS
@given(data=st.binary(max_size=2048), exif=st.booleans())
def test_decode_random_bytes(data: bytes, exif: bool) -> None:
    try:
        img = decode_image(data, exif=exif)
    except ImageError:
        return
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3


def _encoded_sample() -> list[bytes]:
    img, _ = red_person(24, 20)
    out = []
    for ext in (".png", ".jpg", ".bmp", ".webp", ".tiff"):
        ok, buf = cv2.imencode(ext, img)
        if ok:
            out.append(buf.tobytes())
    return out


ENCODED = _encoded_sample()


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
    for name, msg in [("empty.jpg", "empty"), ("text.png", "decode"), ("missing.png", "not found")]:
        with pytest.raises(ImageError, match=msg):
            read_image(tmp_path / name)
    with pytest.raises(ImageError, match="not a file"):
        read_image(tmp_path)


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
