"""One small class per inference engine, all with the same `run(x) -> raw output` interface.

A backend only loads an artifact and runs it: it takes the tensor `model_io.to_model_input` +
`quantize_input` made (already in the artifact's layout and dtype) and returns the raw output tensor.
All pre- and post-processing lives in `Segmenter`, through `portrait_mobile.model_io`, so every
engine sees exactly the same numbers.

Engines are imported lazily: the runtime imports with only NumPy + OpenCV installed, and a missing
engine is a `ModelLoadError` that names the package to install.

Threads: `run` may be called from several threads at once. ONNX Runtime sessions and PyTorch
inference are safe to share; a LiteRT interpreter (and a Core ML model, not documented as safe) is
not (its input/output buffers are shared state: concurrent calls raise "There is at least 1
reference to internal data" or return another call's output), so those backends serialize `run`
with a lock.
"""
from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..artifact_digest import verify_artifact
from ..cli_support import MAX_THREADS
from ..contract import ModelContract
from ..contract_io import read_contract
from ..errors import ContractError, ModelLoadError, short_message
from ..formats import BACKENDS, SUFFIX_BACKEND
from ..litert import load_interpreter

# Backend classes by name (`Backend.name`), filled by @register; the formats registry
# (portrait_mobile.formats) says which name runs which suffix.
_CLASSES: dict[str, type["Backend"]] = {}


def register(cls: type["Backend"]) -> type["Backend"]:
    """Class decorator: make `cls` the backend called `cls.name`; a second class of one name is refused."""
    if cls.name in _CLASSES:
        raise ValueError(f"backend {cls.name!r} is already registered ({_CLASSES[cls.name].__name__})")
    if cls.name not in BACKENDS:
        raise ValueError(f"backend {cls.name!r} is in no row of portrait_mobile.formats.FORMATS")
    _CLASSES[cls.name] = cls
    return cls


class Backend:
    """Runs one loaded model. Subclasses set `name`, `path` and implement `run`."""

    name = "backend"

    def __init__(self, path: str | os.PathLike | None) -> None:
        self.path = Path(path) if path is not None else None

    def run(self, x: np.ndarray) -> np.ndarray:
        """One input tensor (batch of one, the artifact's layout/dtype) -> the raw output tensor."""
        raise NotImplementedError

    def embedded_contract(self) -> ModelContract | None:
        """The contract this engine can read from the loaded model itself, if any."""
        return None

    def check_input(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        """ModelLoadError if the loaded model cannot take this input (checked at load, where known)."""

    def close(self) -> None:
        """Release the engine's resources (optional; garbage collection does it too)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"


def check_threads(threads: object) -> int | None:
    """None (the engine's default) or an int in 1..MAX_THREADS; ValueError otherwise (never a silent
    default)."""
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or not 1 <= threads <= MAX_THREADS:
        raise ValueError(f"threads must be an integer in 1..{MAX_THREADS} or None, got {threads!r}")
    return int(threads)


def _need_file(path: str | os.PathLike, what: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise ModelLoadError(f"model not found: {p}")
    if not p.is_file():
        raise ModelLoadError(f"{p} is not a {what} file")
    if p.stat().st_size == 0:
        raise ModelLoadError(f"{p} is empty, not a {what} model")
    return p


@register
class OnnxBackend(Backend):
    """An .onnx model through ONNX Runtime, CPU execution provider."""

    name = "onnx"

    def __init__(self, path: str | os.PathLike, threads: int | None = None) -> None:
        p = _need_file(path, "ONNX")
        super().__init__(p)
        try:
            import onnxruntime as ort
        except ImportError:
            raise ModelLoadError("running .onnx models needs onnxruntime "
                                 "(pip install 'portrait-mobile[runtime]')") from None
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        if threads:
            opts.intra_op_num_threads = int(threads)
            opts.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(p), sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own Fail/InvalidProtobuf/... types
            raise ModelLoadError(f"{p} is not a loadable ONNX model: {short_message(e)}") from None
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or not outputs:
            raise ModelLoadError(f"{p}: expected one image input, got {len(inputs)} inputs")
        self.input_name = inputs[0].name
        self.output_name = outputs[0].name
        self.input_shape = list(inputs[0].shape)  # ints, or names/None for symbolic dimensions

    def run(self, x: np.ndarray) -> np.ndarray:
        return self.session.run([self.output_name], {self.input_name: x})[0]

    def check_input(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        """ModelLoadError unless the graph takes a tensor of this shape (symbolic dimensions match any)."""
        graph = self.input_shape
        if len(graph) != len(shape) or any(isinstance(g, int) and g != s for g, s in zip(graph, shape)):
            raise ModelLoadError(f"{self.path}: the contract says input {list(shape)} but the graph takes "
                                 f"{graph}; the contract does not describe this model")

    def embedded_contract(self) -> ModelContract | None:
        from ..contract import CONTRACT_KEY

        meta = self.session.get_modelmeta().custom_metadata_map
        if CONTRACT_KEY not in meta:
            return None
        return ModelContract.from_json(meta[CONTRACT_KEY], f"{self.path} (embedded)")


@register
class LiteRTBackend(Backend):
    """A .tflite model through LiteRT (ai_edge_litert), with the default XNNPACK delegate.

    ``xnnpack=False`` runs the built-in reference kernels without the default delegate.
    """

    name = "litert"

    def __init__(self, path: str | os.PathLike, threads: int | None = None, xnnpack: bool = True) -> None:
        p = _need_file(path, "TFLite")
        super().__init__(p)
        self.interpreter, ins, outs = load_interpreter(p, threads, "xnnpack" if xnnpack else "builtin")
        if len(ins) != 1 or not outs:
            raise ModelLoadError(f"{p}: expected one image input, got {len(ins)} inputs")
        self._in = ins[0]
        self._out = outs[0]
        self._lock = threading.Lock()  # one interpreter, shared buffers: one call at a time

    def check_input(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        if tuple(shape) != tuple(self._in["shape"]) or np.dtype(dtype) != self._in["dtype"]:
            raise ModelLoadError(f"{self.path}: the contract says {np.dtype(dtype)} {list(shape)} but the model "
                                 f"takes {np.dtype(self._in['dtype'])} {self._in['shape'].tolist()}")

    def run(self, x: np.ndarray) -> np.ndarray:
        self.check_input(x.shape, x.dtype)
        with self._lock:
            self.interpreter.set_tensor(self._in["index"], x)
            self.interpreter.invoke()
            return self.interpreter.get_tensor(self._out["index"]).copy()


@register
class CoreMLBackend(Backend):
    """A .mlpackage / .mlmodel through coremltools. Core ML runs models on macOS only."""

    name = "coreml"

    def __init__(self, path: str | os.PathLike, threads: int | None = None,
                 compute_units: str = "ALL") -> None:
        p = Path(path)
        if not p.exists():
            raise ModelLoadError(f"model not found: {p}")
        super().__init__(p)
        if sys.platform != "darwin":
            raise ModelLoadError(f"{p.name}: Core ML models run only on macOS (this is {sys.platform}); "
                                 "use the .onnx or .tflite export of the same model here")
        try:
            import coremltools as ct
        except ImportError:
            raise ModelLoadError("running Core ML models needs coremltools (pip install coremltools)") from None
        try:
            self.model = ct.models.MLModel(str(p), compute_units=getattr(ct.ComputeUnit, compute_units))
            spec = self.model.get_spec()
        except Exception as e:  # coremltools raises many types for a bad package
            raise ModelLoadError(f"{p} is not a loadable Core ML model: {short_message(e)}") from None
        inp = spec.description.input[0]
        self.input_name = inp.name
        self.output_name = spec.description.output[0].name
        # portrait-export makes an ImageType input (Core ML scales the 8-bit pixels itself), which
        # coremltools feeds as a PIL image; a MultiArray input takes the tensor as it is.
        self.image_input = inp.type.WhichOneof("Type") == "imageType"
        self._lock = threading.Lock()  # not documented as thread-safe: one prediction at a time

    def run(self, x: np.ndarray) -> np.ndarray:
        feed: Any = x
        if self.image_input:
            from PIL import Image

            hwc = x[0] if x.shape[-1] == 3 else np.transpose(x[0], (1, 2, 0))
            feed = Image.fromarray(np.ascontiguousarray(hwc).astype(np.uint8), "RGB")
        with self._lock:
            out = self.model.predict({self.input_name: feed})
        return np.asarray(out[self.output_name])


@register
class TorchBackend(Backend):
    """A portrait-mobile checkpoint (.pt) through PyTorch, fp32 on CPU. Needs the `train` extra."""

    name = "torch"

    def __init__(self, path: str | os.PathLike | None = None, threads: int | None = None) -> None:
        try:
            import torch
        except ImportError:
            raise ModelLoadError("running a PyTorch checkpoint needs torch (pip install 'portrait-mobile[train]'); "
                                 "or pass an exported .onnx/.tflite model") from None
        from ..checkpoint import Checkpoint, load_any, load_checkpoint
        from ..errors import CheckpointError

        if path is not None and not Path(path).exists():
            raise ModelLoadError(f"model not found: {path}")
        try:
            ckpt = load_checkpoint(None) if path is None else load_any(path)
            if not isinstance(ckpt, Checkpoint):
                raise ModelLoadError(f"{path} is an edge-refiner checkpoint ({ckpt.config.name}); the runtime runs "
                                     "refiners exported by `portrait-export --refiner` (.tflite/.onnx), and a "
                                     ".pt only as the segmentation model")
            self.model = ckpt.build()
        except CheckpointError as e:
            raise ModelLoadError(str(e)) from None
        super().__init__(path)
        if threads:
            torch.set_num_threads(int(threads))  # process-wide in torch; asked for explicitly
        self._torch = torch
        self.contract = ckpt.contract()

    def run(self, x: np.ndarray) -> np.ndarray:
        with self._torch.inference_mode():
            return self.model(self._torch.from_numpy(x)).numpy()

    def embedded_contract(self) -> ModelContract | None:
        return self.contract


def read_contract_for(path: str | os.PathLike, backend: Backend) -> ModelContract:
    """The contract of the artifact at `path`.

    First what the loaded engine reads from the model itself (ONNX Runtime's metadata map, a
    checkpoint's config: no second load), then `portrait_mobile.contract_io.read_contract`, the
    exporters' reader (TFLite metadata, Core ML user metadata, the sidecar `<artifact>.json`).
    """
    embedded = backend.embedded_contract()
    if embedded is not None:
        return embedded
    try:
        return read_contract(path)
    except ContractError:
        raise  # the artifact has a contract, and it is malformed: the error names the file and field
    except ModelLoadError as e:
        raise ModelLoadError(f"{e}; export the model with portrait-export, or pass "
                             "contract=ModelContract(...)") from None


def backend_for(path: str | os.PathLike, backend: str | None = None, threads: int | None = None,
                **kwargs: Any) -> Backend:
    """Open `path` with the named backend, or the one its suffix implies."""
    p = Path(path)
    if backend is None:
        backend = SUFFIX_BACKEND.get(p.suffix.lower())
        if backend is None:
            if not p.exists():
                raise ModelLoadError(f"model not found: {p}")
            raise ModelLoadError(f"{p}: unknown model type {p.suffix!r}; expected "
                                 + ", ".join(sorted(SUFFIX_BACKEND)))
    if backend not in BACKENDS:
        raise ModelLoadError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    threads = check_threads(threads)
    cls = _CLASSES[backend]
    if p.exists():
        verify_artifact(p)  # before any engine parses it
    return cls(p, threads=threads, **kwargs)
