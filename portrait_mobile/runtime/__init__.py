"""Runtime SDK: one `Segmenter` over ONNX Runtime, LiteRT, Core ML (macOS) and PyTorch checkpoints.

    from portrait_mobile.runtime import Segmenter, read_image
    seg = Segmenter.from_file("portrait-sd-256.onnx")      # or Segmenter.default()
    mask = seg.segment(read_image("photo.jpg"))            # float32 HxW person probability

Imports only NumPy and OpenCV; each engine (onnxruntime, ai_edge_litert, coremltools, torch) is
imported when a model that needs it is loaded. See docs/runtime.md.
"""
from .backends import (Backend, CoreMLBackend, LiteRTBackend, OnnxBackend, TorchBackend,
                       backend_for)
from .image_input import read_image, rotate, to_rgb_uint8
from .options import QUALITIES, SegmenterOptions
from .postprocess import (DEFAULT_CLEANUP, NO_CLEANUP, RegionCleanup, binary_mask, clean_regions, guided_filter,
                          keep_largest, refine_edges)
from .segmenter import Segmenter
from .video import VideoResult, VideoSegmenter, read_frames

__all__ = ["Segmenter", "SegmenterOptions", "QUALITIES", "VideoSegmenter", "VideoResult", "read_frames",
           "read_image", "to_rgb_uint8", "rotate", "binary_mask", "keep_largest", "clean_regions", "RegionCleanup",
           "DEFAULT_CLEANUP", "NO_CLEANUP", "refine_edges", "guided_filter", "Backend",
           "OnnxBackend", "LiteRTBackend", "CoreMLBackend", "TorchBackend", "backend_for"]
