"""The PyTorch port of MediaPipe Selfie Segmentation (portrait_mobile.reference) against ai-edge-litert.

Hand-made .tflite graphs (written here with the schema's object API) check every supported op against LiteRT
and provoke the load errors without ../shared; the real MediaPipe files and PFCN images check the port
itself where ../shared is present (CI has it).
"""
from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("ai_edge_litert")

from portrait_mobile.errors import ModelLoadError  # noqa: E402
from portrait_mobile.reference import (  # noqa: E402
    MediaPipeTorch, UnsupportedOpError, flip_average, predict_squashed)
from portrait_mobile.tflite_graph import read_tflite  # noqa: E402
from support import REPO  # noqa: E402

SHARED = REPO.parent / "shared"

# --- writing small .tflite graphs ---------------------------------------------------------------------------

_TYPES = {np.dtype(np.float32): 0, np.dtype(np.float16): 1, np.dtype(np.int32): 2}


class GraphBuilder:
    def __init__(self) -> None:
        from ai_edge_litert import schema_py_generated as s

        self.s = s
        self.model = s.ModelT()
        self.model.version = 3
        self.model.buffers = [s.BufferT()]  # buffer 0: the empty one every activation points to
        self.model.operatorCodes = []
        self.g = s.SubGraphT()
        self.g.tensors, self.g.operators = [], []
        self._codes: dict[tuple[int, str | None], int] = {}

    def tensor(self, shape: tuple[int, ...], data: np.ndarray | None = None, name: str = "",
               dtype: Any = np.float32) -> int:
        t = self.s.TensorT()
        t.shape = list(shape)
        t.name = name or f"t{len(self.g.tensors)}"
        t.type = _TYPES[np.dtype(dtype if data is None else data.dtype)]
        t.buffer = 0
        if data is not None:
            b = self.s.BufferT()
            b.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
            self.model.buffers.append(b)
            t.buffer = len(self.model.buffers) - 1
        self.g.tensors.append(t)
        return len(self.g.tensors) - 1

    def op(self, name: str, inputs: list[int], outputs: list[int], options: Any = None,
           options_type: str | None = None, custom_options: bytes | None = None) -> None:
        s = self.s
        custom = name if not hasattr(s.BuiltinOperator, name) else None
        code = 32 if custom else getattr(s.BuiltinOperator, name)
        key = (code, custom)
        if key not in self._codes:
            oc = s.OperatorCodeT()
            oc.builtinCode, oc.deprecatedBuiltinCode = code, min(code, 127)
            oc.customCode = custom
            self.model.operatorCodes.append(oc)
            self._codes[key] = len(self.model.operatorCodes) - 1
        o = s.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = self._codes[key], inputs, outputs
        if options is not None:
            o.builtinOptions = options
            o.builtinOptionsType = getattr(s.BuiltinOptions, options_type or type(options).__name__[:-1])
        if custom_options is not None:
            o.customOptions = list(custom_options)
        self.g.operators.append(o)

    def options(self, kind: str, **fields: Any) -> Any:
        opt = getattr(self.s, kind + "T")()
        for k, v in fields.items():
            setattr(opt, k, v)
        return opt

    def save(self, path: Path, inputs: list[int], outputs: list[int]) -> Path:
        import flatbuffers

        self.g.inputs, self.g.outputs = inputs, outputs
        self.model.subgraphs = [self.g]
        b = flatbuffers.Builder(1024)
        b.Finish(self.model.Pack(b), file_identifier=b"TFL3")
        path.write_bytes(bytes(b.Output()))
        return path


def mixed_ops_model(path: Path, seed: int = 0, transpose_conv: bool = True) -> Path:
    """Every op kind the interpreter supports, on a non-square input with asymmetric SAME pads.

    input 1x10x12x4 -> CONV_2D s2 SAME +RELU6 (fp16 weights via DEQUANTIZE) -> DEPTHWISE x2 -> HARD_SWISH
    -> squeeze-excite (AVERAGE_POOL VALID, LOGISTIC, MUL) -> 1x1 CONV -> ADD const +RELU -> MUL by a const
    of full shape (constant first) -> AVERAGE_POOL 2x3 SAME
    -> RESIZE_BILINEAR (half-pixel) -> Convolution2DTransposeBias 3x3 s2 SAME -> ADD MEAN -> RELU.
    """
    rng = np.random.default_rng(seed)
    r = lambda *shape: rng.normal(0, 0.5, shape).astype(np.float32)  # noqa: E731
    gb = GraphBuilder()
    x = gb.tensor((1, 10, 12, 4), name="input")
    w16 = gb.tensor((6, 3, 3, 4), r(6, 3, 3, 4).astype(np.float16))
    w = gb.tensor((6, 3, 3, 4))
    gb.op("DEQUANTIZE", [w16], [w])
    c1 = gb.tensor((1, 5, 6, 6))
    gb.op("CONV_2D", [x, w, gb.tensor((6,), r(6))], [c1],
          gb.options("Conv2DOptions", padding=0, strideH=2, strideW=2, fusedActivationFunction=3))
    d1 = gb.tensor((1, 5, 6, 12))
    gb.op("DEPTHWISE_CONV_2D", [c1, gb.tensor((1, 3, 3, 12), r(1, 3, 3, 12)), gb.tensor((12,), r(12))], [d1],
          gb.options("DepthwiseConv2DOptions", padding=0, strideH=1, strideW=1, depthMultiplier=2))
    h1 = gb.tensor((1, 5, 6, 12))
    gb.op("HARD_SWISH", [d1], [h1])
    p1 = gb.tensor((1, 1, 1, 12))
    gb.op("AVERAGE_POOL_2D", [h1], [p1],
          gb.options("Pool2DOptions", padding=1, strideH=5, strideW=6, filterHeight=5, filterWidth=6))
    s1 = gb.tensor((1, 1, 1, 12))
    gb.op("LOGISTIC", [p1], [s1])
    m1 = gb.tensor((1, 5, 6, 12))
    gb.op("MUL", [h1, s1], [m1], gb.options("MulOptions"))
    c2 = gb.tensor((1, 5, 6, 4))
    gb.op("CONV_2D", [m1, gb.tensor((4, 1, 1, 12), r(4, 1, 1, 12)), gb.tensor((4,), r(4))], [c2],
          gb.options("Conv2DOptions", padding=1, strideH=1, strideW=1))
    a1 = gb.tensor((1, 5, 6, 4))
    gb.op("ADD", [c2, gb.tensor((4,), r(4))], [a1], gb.options("AddOptions", fusedActivationFunction=1))
    m2 = gb.tensor((1, 5, 6, 4))
    gb.op("MUL", [gb.tensor((1, 5, 6, 4), r(1, 5, 6, 4)), a1], [m2], gb.options("MulOptions"))
    p2 = gb.tensor((1, 5, 6, 4))
    gb.op("AVERAGE_POOL_2D", [m2], [p2],
          gb.options("Pool2DOptions", padding=0, strideH=1, strideW=1, filterHeight=2, filterWidth=3))
    u1 = gb.tensor((1, 10, 12, 4))
    gb.op("RESIZE_BILINEAR", [p2, gb.tensor((2,), np.array([10, 12], np.int32))], [u1],
          gb.options("ResizeBilinearOptions", alignCorners=False, halfPixelCenters=True))
    last = u1
    if transpose_conv:
        t1 = gb.tensor((1, 20, 24, 2))
        gb.op("Convolution2DTransposeBias", [u1, gb.tensor((2, 3, 3, 4), r(2, 3, 3, 4)), gb.tensor((2,), r(2))],
              [t1], custom_options=struct.pack("<iii", 1, 2, 2))
        last = t1
    mean = gb.tensor((1, 1, 1, 2 if transpose_conv else 4))
    gb.op("MEAN", [last, gb.tensor((2,), np.array([1, 2], np.int32))], [mean],
          gb.options("ReducerOptions", keepDims=True))
    a2 = gb.tensor(gb.g.tensors[last].shape)
    gb.op("ADD", [last, mean], [a2], gb.options("AddOptions"))
    out = gb.tensor(gb.g.tensors[last].shape, name="output")
    gb.op("RELU", [a2], [out])
    return gb.save(path, [x], [out])


def one_op_model(path: Path, op_name: str) -> Path:
    """input 1x4x4x3 -> <op_name> -> output: for the unsupported-op error."""
    gb = GraphBuilder()
    x = gb.tensor((1, 4, 4, 3), name="input")
    y = gb.tensor((1, 4, 4, 3), name="output")
    gb.op(op_name, [x], [y])
    return gb.save(path, [x], [y])


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


def test_reader_sees_ops_shapes_and_fp16_weights(tmp_path: Path) -> None:
    g = read_tflite(mixed_ops_model(tmp_path / "mixed.tflite"))
    assert g.op_names()[:3] == ["DEQUANTIZE", "CONV_2D", "DEPTHWISE_CONV_2D"]
    assert "Convolution2DTransposeBias" in g.op_names()
    assert g.tensors[g.inputs[0]].shape == (1, 10, 12, 4)
    w16 = g.tensors[g.ops[0].inputs[0]]
    assert w16.data is not None and w16.data.dtype == np.float16 and w16.data.shape == (6, 3, 3, 4)
    assert (w16.dtype, w16.stored, w16.is_const) == ("float16", True, True)
    w32 = g.tensors[g.ops[0].outputs[0]]  # the DEQUANTIZE of a constant is a constant, not stored
    assert (w32.dtype, w32.stored, w32.is_const, w32.data) == ("float32", False, True, None)
    assert g.is_const_dequantize(g.ops[0]) and not g.is_const_dequantize(g.ops[1])
    out = g.tensors[g.outputs[0]]
    assert out.data is None and not out.is_const and g.output_name(g.ops[-1]) == out.name
    custom = next(op for op in g.ops if op.builtin == "CUSTOM")
    assert (custom.name, custom.label) == ("Convolution2DTransposeBias", "CUSTOM(Convolution2DTransposeBias)")
    assert read_tflite(mixed_ops_model(tmp_path / "again.tflite").read_bytes()).op_names() == g.op_names()


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
