"""Input validation and explicit conversions to the one image type the runtime segments.

`Segmenter.segment` takes exactly one kind of image: an RGB ``uint8`` NumPy array of shape
``(H, W, 3)``. Everything else is converted *explicitly* by the helpers here, so that a BGR frame from
OpenCV or a 16-bit PNG never gets silently misread:

- `read_image(path)`: any file OpenCV can decode (JPEG, PNG, WebP, BMP, TIFF...), EXIF orientation
  applied, grayscale / RGBA / 16-bit converted.
- `to_rgb_uint8(array, bgr=False)`: grayscale (HxW or HxWx1), RGB, RGBA (alpha dropped), BGR/BGRA
  (``bgr=True``), ``uint16`` (scaled by 1/257) and float arrays in [0, 1].
- `rotate(image, degrees)`: clockwise rotation by 0/90/180/270.

Every problem is an `ImageError` (a `ValueError`) with a message that says what was wrong.

Size limit (decompression bombs): a file's width x height is read from its header (the `imagesize`
package: BMP, PNG, JPEG, JPEG 2000, GIF, TIFF, WebP, Netpbm, AVIF, HEIC) and a file above
`max_pixels()` is refused *before* it is decoded; a file whose size cannot be read from its header
is refused too. Arrays are held to the same limit. Default 120 megapixels (a 108 MP phone photo
fits); set $PORTRAIT_MAX_PIXELS, or pass `max_pixels=` to `read_image` / `decode_image`.
"""
from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import cv2
import numpy as np

from ..errors import ImageError
from ..file_input import read_input

ROTATIONS = (0, 90, 180, 270)
# The still-image files every reader here accepts (CLI folders, datasets, calibration folders).
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
# Decompression-bomb guard: 120 MP is 360 MB decoded as RGB, 480 MB as a float32 mask.
MAX_PIXELS = 120_000_000
MAX_PIXELS_ENV = "PORTRAIT_MAX_PIXELS"


def max_pixels() -> int:
    """The largest width x height accepted: $PORTRAIT_MAX_PIXELS if set, else MAX_PIXELS."""
    env = os.environ.get(MAX_PIXELS_ENV)
    if env is None or not env.strip():
        return MAX_PIXELS
    try:
        v = int(env)
    except ValueError:
        raise ImageError(f"${MAX_PIXELS_ENV} must be a positive integer, got {env!r}") from None
    if v < 1:
        raise ImageError(f"${MAX_PIXELS_ENV} must be a positive integer, got {env!r}")
    return v


def _check_pixels(w: int, h: int, what: str, limit: int | None = None) -> None:
    limit = max_pixels() if limit is None else limit
    if w * h > limit:
        raise ImageError(f"{what}: {w}x{h} = {w * h:,} pixels, more than the limit of {limit:,} "
                         f"(raise it with ${MAX_PIXELS_ENV} or max_pixels=)")
# Header bytes we look at to tell a video or a non-image from an image before decoding.
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"BM", b"II*\x00", b"MM\x00*", b"GIF8")


def check_rgb_uint8(image: object, name: str = "image") -> np.ndarray:
    """Raise ImageError unless `image` is a non-empty RGB uint8 HxWx3 array; return it."""
    if not isinstance(image, np.ndarray):
        raise ImageError(f"{name} must be a NumPy array (RGB uint8 HxWx3), got {type(image).__name__}; "
                         "use read_image(path) for files")
    if image.dtype != np.uint8:
        raise ImageError(f"{name} must be uint8 RGB HxWx3, got dtype {image.dtype}; "
                         "convert explicitly with to_rgb_uint8(image)")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ImageError(f"{name} must be RGB uint8 HxWx3, got shape {image.shape}; "
                         "convert grayscale/RGBA explicitly with to_rgb_uint8(image)")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ImageError(f"{name} is empty (shape {image.shape})")
    _check_pixels(image.shape[1], image.shape[0], name)
    return image


def to_rgb_uint8(image: object, bgr: bool = False) -> np.ndarray:
    """Convert an array to RGB uint8 HxWx3, or raise ImageError.

    Accepted: HxW / HxWx1 grayscale, HxWx3 colour, HxWx4 colour+alpha (the alpha is dropped: the
    colour channels are segmented as they are); dtypes uint8, uint16 (``v / 257``), bool (0/255) and
    floats in [0, 1] (NaN or out-of-range values are an error, not clipped). ``bgr=True`` says the
    channels are in OpenCV's BGR(A) order.
    """
    if not isinstance(image, np.ndarray):
        raise ImageError(f"expected a NumPy array, got {type(image).__name__}")
    a = image
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise ImageError(f"unsupported image shape {image.shape}: expected HxW, HxWx1, HxWx3 or HxWx4")
    if a.shape[0] < 1 or a.shape[1] < 1:
        raise ImageError(f"image is empty (shape {image.shape})")
    _check_pixels(a.shape[1], a.shape[0], "image")
    if a.dtype == np.uint8:
        pass
    elif a.dtype == np.uint16:
        # Rounded v/257 maps 0..65535 exactly onto 0..255; done in uint32 to avoid float copies.
        a = ((a.astype(np.uint32) + 128) // 257).astype(np.uint8)
    elif a.dtype == np.bool_:
        a = a.astype(np.uint8) * 255
    elif np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise ImageError("image contains NaN or infinite values")
        lo, hi = float(a.min()), float(a.max())
        if lo < 0.0 or hi > 1.0:
            raise ImageError(f"float images must have values in [0, 1], got [{lo:g}, {hi:g}]; "
                             "scale them first (uint8 0..255 arrays are accepted as they are)")
        a = np.round(a.astype(np.float32) * 255.0).astype(np.uint8)
    else:
        raise ImageError(f"unsupported image dtype {image.dtype}: expected uint8, uint16, bool or float in [0, 1]")
    if a.ndim == 2:
        return cv2.cvtColor(np.ascontiguousarray(a), cv2.COLOR_GRAY2RGB)
    if a.shape[2] == 4:
        a = a[..., :3]
    if bgr:
        a = a[..., ::-1]
    return np.ascontiguousarray(a)


def rotate(image: np.ndarray, degrees: int) -> np.ndarray:
    """Rotate clockwise by 0, 90, 180 or 270 degrees (a view where NumPy can give one)."""
    k = check_rotation(degrees)
    return np.rot90(image, k=-(k // 90)) if k else image


def check_rotation(degrees: object) -> int:
    try:
        d = int(degrees)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ImageError(f"rotation must be one of {ROTATIONS}, got {degrees!r}") from None
    if d != degrees or d % 360 not in ROTATIONS:
        raise ImageError(f"rotation must be one of {ROTATIONS}, got {degrees!r}")
    return d % 360


# --- EXIF orientation -----------------------------------------------------------------------------

def _tiff_orientation(tiff: bytes) -> int:
    """Orientation tag (0x0112) of IFD0 of a TIFF/EXIF block; 1 when absent or unreadable."""
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return 1
    e = "<" if tiff[:2] == b"II" else ">"
    try:
        (ifd,) = struct.unpack_from(e + "I", tiff, 4)
        (n,) = struct.unpack_from(e + "H", tiff, ifd)
        for i in range(min(n, 512)):
            tag, typ, _count = struct.unpack_from(e + "HHI", tiff, ifd + 2 + 12 * i)
            if tag == 0x0112 and typ == 3:  # SHORT
                (v,) = struct.unpack_from(e + "H", tiff, ifd + 2 + 12 * i + 8)
                return v if 1 <= v <= 8 else 1
    except struct.error:
        pass
    return 1


def exif_orientation(data: bytes) -> int:
    """EXIF orientation (1..8) of a JPEG, PNG (eXIf) or WebP file's bytes; 1 when there is none."""
    try:
        if data[:2] == b"\xff\xd8":  # JPEG: walk the segments up to the image data
            i = 2
            while i + 4 <= len(data) and data[i] == 0xFF:
                marker = data[i + 1]
                if marker in (0xD9, 0xDA):  # end of image / start of scan
                    break
                (length,) = struct.unpack_from(">H", data, i + 2)
                if marker == 0xE1 and data[i + 4:i + 10] == b"Exif\x00\x00":
                    return _tiff_orientation(data[i + 10:i + 2 + length])
                i += 2 + length
        elif data[:8] == b"\x89PNG\r\n\x1a\n":
            i = 8
            while i + 8 <= len(data):
                (length,) = struct.unpack_from(">I", data, i)
                ctype = data[i + 4:i + 8]
                if ctype == b"eXIf":
                    return _tiff_orientation(data[i + 8:i + 8 + length])
                if ctype in (b"IDAT", b"IEND"):
                    break
                i += 12 + length
        elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            i = 12
            while i + 8 <= len(data):
                ctype = data[i:i + 4]
                (length,) = struct.unpack_from("<I", data, i + 4)
                if ctype == b"EXIF":
                    block = data[i + 8:i + 8 + length]
                    return _tiff_orientation(block[6:] if block.startswith(b"Exif\x00\x00") else block)
                i += 8 + length + (length & 1)
    except struct.error:
        pass
    return 1


def apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Transform a decoded image as EXIF orientation `orientation` asks, so it displays upright."""
    if orientation == 2:
        return image[:, ::-1]
    if orientation == 3:
        return image[::-1, ::-1]
    if orientation == 4:
        return image[::-1]
    if orientation == 5:
        return np.swapaxes(image, 0, 1)
    if orientation == 6:
        return np.rot90(image, k=-1)
    if orientation == 7:
        return np.rot90(image, k=1)[:, ::-1]
    if orientation == 8:
        return np.rot90(image, k=1)
    return image


# --- files ----------------------------------------------------------------------------------------

def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from an encoded image's header, without decoding; None if unreadable."""
    import imagesize

    try:
        w, h = imagesize.get(io.BytesIO(data), exif_rotation=False)
    except Exception:  # a malformed header: imagesize raises struct/value/index errors
        return None
    return (int(w), int(h)) if w >= 0 and h >= 0 else None


def decode_image(data: bytes, exif: bool = True, source: str = "image",
                 max_pixels: int | None = None) -> np.ndarray:
    """Encoded image bytes -> RGB uint8 HxWx3 (EXIF orientation applied when `exif`).

    The size in the header is checked against `max_pixels` (default `max_pixels()`) before decoding.
    """
    if not data:
        raise ImageError(f"{source}: file is empty")
    size = header_size(data)
    if size is None:
        raise ImageError(f"{source}: not an image whose size can be read (corrupt, or not BMP, PNG, JPEG, "
                         "JPEG 2000, GIF, TIFF, WebP or Netpbm)")
    if size[0] < 1 or size[1] < 1:
        raise ImageError(f"{source}: the header says the image is {size[0]}x{size[1]}")
    _check_pixels(size[0], size[1], source, max_pixels)
    buf = np.frombuffer(data, dtype=np.uint8)
    try:
        # UNCHANGED keeps 16-bit depth and alpha (converted below) but ignores EXIF: applied by hand.
        img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    except cv2.error as e:
        raise ImageError(f"{source}: cannot decode image ({str(e).strip().splitlines()[-1]})") from None
    if img is None or img.size == 0:
        raise ImageError(f"{source}: not an image OpenCV can decode (corrupt or unsupported format)")
    # The header may have lied (e.g. a TIFF whose first page is another one): check what came out.
    _check_pixels(img.shape[1], img.shape[0], source, max_pixels)
    if img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3:
        rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB, dst=img)  # in place: the decoded buffer is ours
    else:
        try:
            rgb = to_rgb_uint8(img, bgr=True)
        except ImageError as e:  # its message describes the pixels; a folder run must say which file
            raise ImageError(f"{source}: {e}") from None
    if exif:
        rgb = np.ascontiguousarray(apply_orientation(rgb, exif_orientation(data)))
    return rgb


def read_image(path: str | os.PathLike, exif: bool = True, max_pixels: int | None = None) -> np.ndarray:
    """Read an image file as RGB uint8 HxWx3; ImageError if missing, unreadable or not an image.

    With ``exif=True`` (default) the EXIF orientation tag is applied, so a photo taken with the phone
    held sideways comes out upright, as a photo viewer shows it. A file whose header says it has more
    than `max_pixels` pixels (default `max_pixels()`) is refused before it is decoded.
    """
    data = read_input(path, ImageError, "image")
    return decode_image(data, exif=exif, source=str(Path(path)), max_pixels=max_pixels)


def looks_like_image(path: str | os.PathLike) -> bool:
    """Cheap magic-byte check (JPEG, PNG, BMP, TIFF, GIF, WebP) used to sort CLI inputs."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return False
    return head.startswith(_IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
