"""The PyTorch port of MediaPipe Selfie Segmentation (portrait_mobile.reference) against ai-edge-litert.

Hand-made .tflite graphs (written here with the schema's object API) check every supported op against LiteRT
and provoke the load errors without ../shared; the real MediaPipe files and PFCN images check the port
itself where ../shared is present (CI has it).
"""
from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("ai_edge_litert")

from portrait_mobile.errors import ModelLoadError  # noqa: E402
from portrait_mobile.reference import (  # noqa: E402
    MediaPipeTorch, UnsupportedOpError, flip_average, predict_squashed)
from support import REPO  # noqa: E402
from support.tflite_graphs import GraphBuilder, mixed_ops_model, one_op_model, tampered  # noqa: E402

SHARED = REPO.parent / "shared"

# --- helpers ------------------------------------------------------------------------------------------------


def _litert(path: Path, x_nhwc: np.ndarray) -> np.ndarray:
    """LiteRT (default delegates: XNNPACK provides Convolution2DTransposeBias), one image per invoke."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path), num_threads=1)
    it.allocate_tensors()
    i, o = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
    out = []
    for a in x_nhwc:
        it.set_tensor(i, a[None])
        it.invoke()
        out.append(it.get_tensor(o)[0].copy())
    return np.stack(out)


def _port(model: MediaPipeTorch, x_nhwc: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        y = model(torch.from_numpy(x_nhwc).permute(0, 3, 1, 2))
    return y.permute(0, 2, 3, 1).numpy()


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


# --- every supported op against LiteRT, no ../shared needed -------------------------------------------------


@pytest.mark.parametrize("transpose_conv", [True, False])
def test_mixed_ops_match_litert(tmp_path: Path, transpose_conv: bool) -> None:
    path = mixed_ops_model(tmp_path / "mixed.tflite", transpose_conv=transpose_conv)
    x = np.random.default_rng(1).random((3, 10, 12, 4), np.float32)
    ref = _litert(path, x)
    y = _port(MediaPipeTorch.from_tflite(path), x)
    assert y.shape == ref.shape
    assert np.abs(ref).max() > 0.5  # a graph that collapsed to zeros would prove nothing
    np.testing.assert_allclose(y, ref, atol=2e-5, rtol=0)


def test_weights_are_buffers_not_parameters(tmp_path: Path) -> None:
    m = MediaPipeTorch.from_tflite(mixed_ops_model(tmp_path / "mixed.tflite"))
    assert not m.training
    assert list(m.parameters()) == []
    assert len(list(m.buffers())) >= 8  # conv weights and biases, constants; they follow .to(device)


def test_wrong_input_shape_is_refused(tmp_path: Path) -> None:
    m = MediaPipeTorch.from_tflite(mixed_ops_model(tmp_path / "mixed.tflite"))
    with pytest.raises(ValueError, match=r"expects B x 4 x 10 x 12"):
        m(torch.zeros(1, 4, 12, 10))
    with pytest.raises(ValueError, match="float"):
        m(torch.zeros(1, 4, 10, 12, dtype=torch.uint8))


# --- load errors --------------------------------------------------------------------------------------------


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "selfie_segmentation.tflite"
    with pytest.raises(ModelLoadError, match="not found") as e:
        MediaPipeTorch.from_tflite(path)
    assert str(path) in str(e.value)


def test_folder_without_the_model_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError) as e:
        MediaPipeTorch.from_tflite(tmp_path)
    assert str(tmp_path / "selfie_segmentation.tflite") in str(e.value)


@pytest.mark.parametrize("kind", ["random", "empty", "tfl3_garbage", "truncated"])
def test_corrupt_file_names_the_path(tmp_path: Path, kind: str) -> None:
    rng = np.random.default_rng(0)
    good = mixed_ops_model(tmp_path / "good.tflite").read_bytes()
    data = {
        "random": rng.integers(0, 256, 4000, dtype=np.uint8).tobytes(),
        "empty": b"",
        "tfl3_garbage": b"\xff\xff\x00\x00TFL3" + rng.integers(0, 256, 4000, dtype=np.uint8).tobytes(),
        "truncated": good[: len(good) // 3],
    }[kind]
    path = tmp_path / f"{kind}.tflite"
    path.write_bytes(data)
    with pytest.raises(ModelLoadError) as e:
        MediaPipeTorch.from_tflite(path)
    assert str(path) in str(e.value)


@pytest.mark.parametrize("op_name", ["TANH", "SQUARED_DIFFERENCE", "MyCustomOp"])
def test_unsupported_op_is_named(tmp_path: Path, op_name: str) -> None:
    path = one_op_model(tmp_path / "one.tflite", op_name)
    with pytest.raises(UnsupportedOpError) as e:
        MediaPipeTorch.from_tflite(path)
    assert isinstance(e.value, ModelLoadError)
    assert op_name in str(e.value) and str(path) in str(e.value)


def test_supported_op_with_unsupported_option_is_named(tmp_path: Path) -> None:
    gb = GraphBuilder()
    x, y = gb.tensor((1, 4, 4, 3), name="input"), gb.tensor((1, 8, 8, 3), name="output")
    gb.op("RESIZE_BILINEAR", [x, gb.tensor((2,), np.array([8, 8], np.int32))], [y],
          gb.options("ResizeBilinearOptions", alignCorners=False, halfPixelCenters=False))
    path = gb.save(tmp_path / "legacy_resize.tflite", [x], [y])
    with pytest.raises(UnsupportedOpError, match="RESIZE_BILINEAR.*half_pixel_centers=False"):
        MediaPipeTorch.from_tflite(path)


# --- malformed graphs (audit 3): a ModelLoadError naming the file and the op at build, never a traceback ---


def _tampered(tmp_path: Path, name: str, tamper: Callable[[Any, Any], None], base: Path | None = None) -> Path:
    """A copy of `base` (default: the mixed-ops graph) with `tamper(model, subgraph)` applied through the
    schema's object API; the original is never written."""
    return tampered(base or mixed_ops_model(tmp_path / "good.tflite"), tmp_path / f"{name}.tflite", tamper)


def _opt(k: int, **fields: Any) -> Callable[[Any, Any], None]:
    def tamper(m: Any, g: Any) -> None:
        for f, v in fields.items():
            setattr(g.operators[k].builtinOptions, f, v)
    return tamper


def _options_of(k: int, kind: str, **fields: Any) -> Callable[[Any, Any], None]:
    def tamper(m: Any, g: Any) -> None:
        from ai_edge_litert import schema_py_generated as s

        o = None if kind is None else getattr(s, kind + "T")()
        for f, v in fields.items():
            setattr(o, f, v)
        g.operators[k].builtinOptions = o
        g.operators[k].builtinOptionsType = 0 if kind is None else getattr(s.BuiltinOptions, kind)
    return tamper


def _tensor(pick: Callable[[Any], int], **fields: Any) -> Callable[[Any, Any], None]:
    def tamper(m: Any, g: Any) -> None:
        for f, v in fields.items():
            setattr(g.tensors[pick(g)], f, v)
    return tamper


def _const_data(pick: Callable[[Any], int], data: np.ndarray) -> Callable[[Any, Any], None]:
    def tamper(m: Any, g: Any) -> None:
        m.buffers[g.tensors[pick(g)].buffer].data = np.frombuffer(data.tobytes(), np.uint8)
    return tamper


def _unary_reads_a_constant(m: Any, g: Any) -> None:
    g.operators[15].inputs = [g.operators[7].inputs[1]]  # RELU of op 7's filter


def _transpose_stride(m: Any, g: Any) -> None:
    g.operators[12].customOptions = list(struct.pack("<iii", 1, 2**20, 2**20))


# mixed_ops_model's ops: 1 CONV_2D 3x3 s2 SAME, 2 DEPTHWISE 3x3, 4 AVERAGE_POOL 5x6 VALID, 7 CONV_2D 1x1,
# 8 ADD, 10 AVERAGE_POOL 2x3 SAME, 11 RESIZE_BILINEAR, 12 Convolution2DTransposeBias s2, 15 RELU.
MALFORMED = {
    "conv_no_options": (_options_of(1, None), r"op 1 CONV_2D: options are missing, expected Conv2DOptions"),
    "conv_wrong_options": (_options_of(1, "ReshapeOptions", newShape=[1]),
                           r"op 1 CONV_2D: options are ReshapeOptions, expected Conv2DOptions"),
    "conv_stride0": (_opt(1, strideH=0), r"op 1 CONV_2D: height: kernel 3, stride 0, dilation 1"),
    "depthwise_dilation_huge": (_opt(2, dilationWFactor=2**30),
                                r"op 2 DEPTHWISE_CONV_2D: width: .* dilated 1073741824"),
    "pool_window_huge": (_opt(10, filterHeight=2**30), r"op 10 AVERAGE_POOL_2D: height: a 1073741824-tap window"),
    "valid_pool_wider_than_input": (_opt(4, filterWidth=7), r"op 4 AVERAGE_POOL_2D: width: .* an input of 6"),
    "conv_weight_rank1": (_tensor(lambda g: g.operators[7].inputs[1], shape=[48]),
                          r"op 7 CONV_2D: filter of shape \[48\] does not fit 12 input channels"),
    "add_wrong_options": (_options_of(8, "MulOptions"), r"op 8 ADD: options are MulOptions, expected AddOptions"),
    "resize_size_huge": (_const_data(lambda g: g.operators[11].inputs[1], np.array([2**20, 12], np.int32)),
                         r"op 11 RESIZE_BILINEAR: size \[1048576, 12\]"),
    "transpose_stride_huge": (_transpose_stride, r"op 12 Convolution2DTransposeBias: stride 1048576x1048576"),
    "unary_reads_a_constant": (_unary_reads_a_constant, r"op 15 RELU reads 0 activation tensors"),
    "input_huge": (_tensor(lambda g: g.inputs[0], shape=[1, 32768, 65536, 4]),
                   r"input \[1, 32768, 65536, 4\], expected sides in 1\.\.2048"),
    "activation_huge": (_tensor(lambda g: g.operators[1].outputs[0], shape=[1, 32768, 65536, 6]),
                        r"op 1 CONV_2D: activation tensor \S+ of shape \[1, 32768, 65536, 6\]"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_op_is_refused_at_build_naming_file_and_op(tmp_path: Path, name: str) -> None:
    """Each was a raw AttributeError / ZeroDivisionError / IndexError at build, or built and then failed
    (a TypeError, terabytes asked of F.pad, 24 GiB per image) at the first forward."""
    tamper, match = MALFORMED[name]
    path = _tampered(tmp_path, name, tamper)
    with pytest.raises(ModelLoadError, match=match) as e:
        MediaPipeTorch.from_tflite(path)
    assert str(path) in str(e.value)


def _conv_indices(field: str, i: int) -> Callable[[Any, Any], None]:
    """Tensor `i` as op 1 (CONV_2D)'s first input or output."""
    def tamper(m: Any, g: Any) -> None:
        op = g.operators[1]
        setattr(op, field, [i, *list(getattr(op, field))[1:]])
    return tamper


@pytest.mark.parametrize("name,tamper,match", [
    ("graph_input", lambda m, g: setattr(g, "inputs", [99999]), r"a graph input names tensor 99999 of \d+"),
    ("graph_output", lambda m, g: setattr(g, "outputs", [99999]), r"a graph output names tensor 99999 of \d+"),
    ("op_input", _conv_indices("inputs", 99999), r"op 1 input names tensor 99999 of \d+"),
    ("op_output", _conv_indices("outputs", 99999), r"op 1 output names tensor 99999 of \d+"),
    ("op_input_negative", _conv_indices("inputs", -7), r"op 1 input names tensor -7 of \d+"),
])
def test_tensor_indices_out_of_range_are_refused_naming_the_file(tmp_path: Path, name: str,
                                                                 tamper: Callable[[Any, Any], None],
                                                                 match: str) -> None:
    """The port indexes `graph.tensors` with these; the graph reader (read_tflite, under from_tflite) is what
    refuses them, naming the file (-7 was once taken for an omitted input, then forward failed with a
    TypeError)."""
    path = _tampered(tmp_path, name, tamper)
    with pytest.raises(ModelLoadError, match=match) as e:
        MediaPipeTorch.from_tflite(path)
    assert str(e.value).startswith(f"{path} is a corrupt TFLite model: "), str(e.value)


def test_an_omitted_activation_input_is_refused(tmp_path: Path) -> None:
    """-1 (omitted) where CONV_2D needs its input: graph.tensors[-1] was read as if it were that input."""
    tamper = lambda m, g: setattr(g.operators[1], "inputs", [-1, *g.operators[1].inputs[1:]])  # noqa: E731
    path = _tampered(tmp_path, "conv_input_omitted", tamper)
    with pytest.raises(ModelLoadError, match=r"op 1 CONV_2D reads 0 activation tensors") as e:
        MediaPipeTorch.from_tflite(path)
    assert str(path) in str(e.value)


def test_an_unexpected_builder_error_names_file_and_op(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from portrait_mobile.reference import ops

    def broken(graph: Any, op: Any, consts: Any) -> Any:
        return op.options.no_such_field  # RELU has no options: an AttributeError a builder did not foresee

    monkeypatch.setitem(ops.BUILDERS, "RELU", broken)
    path = mixed_ops_model(tmp_path / "mixed.tflite")
    with pytest.raises(ModelLoadError, match=rf"{path}: op 15 RELU is malformed: AttributeError"):
        MediaPipeTorch.from_tflite(path)


def test_bench_reports_a_malformed_model_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from portrait_mobile.reference.bench import main

    path = _tampered(tmp_path, "conv_stride0", _opt(1, strideH=0))
    assert main(["--model", str(path), "--no-litert", "--batch", "1", "--repeat", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(path) in err and "op 1 CONV_2D" in err and "Traceback" not in err


@pytest.mark.parametrize("name,tamper,match", [
    ("conv_no_options", _options_of(2, None), r"op 2 CONV_2D: options are missing"),
    ("conv_stride0", _opt(2, strideH=0), r"op 2 CONV_2D: height: .*stride 0"),
    ("conv_dilation_huge", _opt(2, dilationHFactor=2**30), r"op 2 CONV_2D: height: .*dilated 1073741824"),
    ("input_huge", _tensor(lambda g: g.inputs[0], shape=[1, 32768, 65536, 3]), r"input \[1, 32768, 65536, 3\]"),
])
def test_the_audits_tamperings_of_mediapipe_are_refused(tmp_path: Path, name: str,
                                                        tamper: Callable[[Any, Any], None], match: str) -> None:
    """The audit's own files, remade from a copy of the real model (op 2 is its first CONV_2D)."""
    path = _tampered(tmp_path, name, tamper, base=_anchor("selfie_segmentation.tflite"))
    with pytest.raises(ModelLoadError, match=match) as e:
        MediaPipeTorch.from_tflite(path)
    assert str(path) in str(e.value)


# --- flip averaging -----------------------------------------------------------------------------------------


def test_flip_average_is_the_mean_of_the_mirrored_prediction() -> None:
    w = 8
    ramp = torch.linspace(0.0, 1.0, w)  # a model that is not mirror-symmetric

    def model(x: torch.Tensor) -> torch.Tensor:
        return x[:, :1] * ramp

    x = torch.rand(3, 3, 5, w, generator=torch.Generator().manual_seed(0))
    got = flip_average(model, x)
    want = 0.5 * (model(x) + model(x.flip(-1)).flip(-1))
    torch.testing.assert_close(got, want)
    assert not torch.allclose(got, model(x))
    # Mirror-equivariant by construction: the average of a mirrored image is the mirrored average.
    torch.testing.assert_close(flip_average(model, x.flip(-1)), got.flip(-1))


class _StubSegmenter(torch.nn.Module):
    """Takes only 10 x 12 inputs, like MediaPipeTorch takes only its own size; not mirror-symmetric."""

    input_size = (10, 12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert tuple(x.shape[-2:]) == self.input_size, x.shape
        return torch.sigmoid(x.mean(1, keepdim=True) * torch.linspace(-2.0, 3.0, 12))


def test_predict_squashed_takes_any_size_back_to_it() -> None:
    stub = _StubSegmenter()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 10, 12, generator=g)
    torch.testing.assert_close(predict_squashed(stub, x), flip_average(stub, x))  # native size: no resampling
    torch.testing.assert_close(predict_squashed(stub, x, flip=False), stub(x))
    big = torch.rand(2, 3, 30, 20, generator=g)
    y = predict_squashed(stub, big)
    assert y.shape == (2, 1, 30, 20) and float(y.min()) >= 0.0 and float(y.max()) <= 1.0


# --- the real MediaPipe models on real images (../shared) ---------------------------------------------------


def _anchor(name: str) -> Path:
    path = SHARED / "anchors" / name
    if not path.is_file():
        pytest.skip(f"MediaPipe reference not available at {path}")
    return path


def _pfcn_test_images(n: int, size: tuple[int, int]) -> np.ndarray:
    """The first n PFCN test images, RGB, squashed to size (h, w), float32 in [0, 1], NHWC."""
    import cv2

    root = SHARED / "datasets" / "pfcn"
    if not (root / "test.txt").is_file():
        pytest.skip(f"PFCN not available at {root}")
    ids = (root / "test.txt").read_text().split()[:n]
    out = []
    for i in ids:
        bgr = cv2.imread(str(root / "images" / f"{i}.jpg"), cv2.IMREAD_COLOR)
        assert bgr is not None, f"unreadable PFCN image {i}"
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        out.append(cv2.resize(rgb, (size[1], size[0]), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0)
    return np.stack(out)


@pytest.mark.slow
@pytest.mark.parametrize("name,size,n", [("selfie_segmentation.tflite", (256, 256), 16),
                                         ("selfie_segmentation_landscape.tflite", (144, 256), 8)])
def test_mediapipe_port_matches_litert_on_pfcn(name: str, size: tuple[int, int], n: int) -> None:
    path = _anchor(name)
    x = _pfcn_test_images(n, size)
    model = MediaPipeTorch.from_tflite(path)
    assert model.input_size == size
    ref = _litert(path, x)[..., 0]
    y = _port(model, x)[..., 0]
    assert y.shape == ref.shape == (n, *size)
    diff = np.abs(y - ref)
    # Measured: max 1.0e-4 (general, 16 images), 1.9e-4 (landscape); mean ~1e-7. Order-of-summation noise.
    assert diff.max() < 5e-4, f"max abs diff {diff.max():.2e}"
    assert diff.mean() < 1e-5, f"mean abs diff {diff.mean():.2e}"
    ious = [_iou(a > 0.5, b > 0.5) for a, b in zip(y, ref)]
    assert min(ious) >= 0.999, f"mask IoU per image {ious}"
    # Real portraits: a sizeable person in every image, so the IoU above is not vacuous.
    assert all((ref > 0.5).mean(axis=(1, 2)) > 0.05)


@pytest.mark.slow
def test_flip_average_of_the_port_matches_litert_flip_average() -> None:
    path = _anchor("selfie_segmentation.tflite")
    x = _pfcn_test_images(4, (256, 256))
    ref = 0.5 * (_litert(path, x) + _litert(path, np.ascontiguousarray(x[:, :, ::-1]))[:, :, ::-1])
    with torch.no_grad():
        y = flip_average(MediaPipeTorch.from_tflite(path), torch.from_numpy(x).permute(0, 3, 1, 2))
    np.testing.assert_allclose(y.permute(0, 2, 3, 1).numpy(), ref, atol=5e-4, rtol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_port_on_cuda_matches_cpu(tmp_path: Path) -> None:
    path = SHARED / "anchors" / "selfie_segmentation.tflite"
    real = path.is_file() and (SHARED / "datasets" / "pfcn" / "test.txt").is_file()
    if not real:
        path = mixed_ops_model(tmp_path / "mixed.tflite")
    model = MediaPipeTorch.from_tflite(path)
    h, w = model.input_size
    if real:
        x = torch.from_numpy(_pfcn_test_images(16, (h, w))).permute(0, 3, 1, 2)
    else:
        x = torch.rand(8, 4, h, w, generator=torch.Generator().manual_seed(0))
    tf32 = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False  # Ampere+ default: TF32 convolutions, ~1e-3 off plain fp32
    try:
        with torch.no_grad():
            cpu = model(x)
            gpu = model.cuda()(x.cuda()).cpu()
    finally:
        torch.backends.cudnn.allow_tf32 = tf32
    torch.testing.assert_close(gpu, cpu, atol=1e-4, rtol=0)
