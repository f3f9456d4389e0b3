"""Effects on real portraits (PFCN test images with their ground-truth masks) and on generated images."""
from __future__ import annotations

import numpy as np
import pytest
import cv2

from portrait_mobile.runtime import effects
from portrait_mobile.errors import ImageError

from support import pfcn
from support.runtime_models import red_person


@pytest.fixture(scope="module")
def portraits() -> list[tuple[np.ndarray, np.ndarray]]:
    """Three real portraits with their masks as float [0, 1] (a soft edge, like a model's)."""
    return [(img, cv2.GaussianBlur(m.astype(np.float32) / 255, (0, 0), 1.5))
            for img, m in pfcn.images_with_masks(3)]


def _sure(mask: np.ndarray, person: bool, margin: int = 25) -> np.ndarray:
    """Pixels at least `margin` px inside the person (or inside the background)."""
    m = (mask >= 0.5) if person else (mask < 0.5)
    return cv2.erode(m.astype(np.uint8), np.ones((2 * margin + 1,) * 2, np.uint8)) > 0


def _texture(img: np.ndarray, where: np.ndarray) -> float:
    """Mean absolute Laplacian (detail) over a region."""
    lap = np.abs(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.CV_32F))
    return float(lap[where].mean())


def test_blur_changes_background_not_person(portraits: list[tuple[np.ndarray, np.ndarray]]) -> None:
    for img, mask in portraits:
        out = effects.blur_background(img, mask)
        assert out.shape == img.shape and out.dtype == np.uint8
        bg, fg = _sure(mask, False), _sure(mask, True)
        assert bg.sum() > 1000 and fg.sum() > 1000
        diff = np.abs(out.astype(int) - img.astype(int)).max(axis=2)
        # The background really is blurred: detail drops by more than half, pixels move.
        assert _texture(out, bg) < 0.5 * _texture(img, bg)
        assert diff[bg].mean() > 2.0
        # The person is untouched: exactly equal where the mask is 1, within 1 level elsewhere inside.
        assert (diff[mask >= 1.0] == 0).all()
        assert diff[fg].max() <= 1


def test_blur_has_no_person_halo() -> None:
    """Mask-weighted blur: a bright person does not bleed into a dark background."""
    img = np.full((200, 200, 3), 20, np.uint8)
    mask = np.zeros((200, 200), np.float32)
    mask[50:150, 50:150] = 1.0
    img[mask > 0] = 250
    out = effects.blur_background(img, mask, strength=0.05)
    ring = (cv2.dilate(mask, np.ones((21, 21), np.uint8)) > 0) & (mask == 0)
    plain = cv2.GaussianBlur(img, (0, 0), 0.05 * np.hypot(200, 200))
    assert plain[ring].max() > 100  # what a plain blur-and-composite would show around the person
    assert out[ring].max() <= 35
    np.testing.assert_array_equal(out[mask == 1], img[mask == 1])


def test_replace_with_colour_and_image(portraits: list[tuple[np.ndarray, np.ndarray]]) -> None:
    img, mask = portraits[0]
    out = effects.replace_background(img, mask, "#00ff00")
    bg, fg = mask == 0.0, mask == 1.0
    assert bg.mean() > 0.1 and fg.mean() > 0.1
    assert (out[bg] == [0, 255, 0]).all()
    np.testing.assert_array_equal(out[fg], img[fg])
    backdrop = np.zeros((50, 300, 3), np.uint8)
    backdrop[..., 2] = 255  # blue, wide: resized to cover and centre-cropped
    out2 = effects.replace_background(img, mask, backdrop)
    assert out2.shape == img.shape and (out2[bg] == [0, 0, 255]).all()
    assert effects.parse_color("10, 20, 30") == (10, 20, 30)
    with pytest.raises(ValueError):
        effects.parse_color("#zzzzzz")
    with pytest.raises(ValueError):
        effects.replace_background(img, mask, (1, 2, 300))


def test_cutout_alpha_is_the_mask(portraits: list[tuple[np.ndarray, np.ndarray]]) -> None:
    img, mask = portraits[1]
    rgba = effects.cutout(img, mask)
    assert rgba.shape == (*img.shape[:2], 4) and rgba.dtype == np.uint8
    np.testing.assert_array_equal(rgba[..., :3], img)
    np.testing.assert_array_equal(rgba[..., 3], np.round(mask * 255).astype(np.uint8))
    ok, png = cv2.imencode(".png", cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    back = cv2.imdecode(png, cv2.IMREAD_UNCHANGED)
    assert back.shape[2] == 4


def test_effects_are_pure_and_validate() -> None:
    img, gt = red_person(60, 50)
    before = img.copy()
    m = gt.astype(np.float32)
    for name in effects.EFFECTS:
        effects.apply_effect(name, img, m)
        effects.apply_effect(name, img, gt)  # bool mask
        effects.apply_effect(name, img, (gt * 255).astype(np.uint8))  # uint8 mask
    np.testing.assert_array_equal(img, before)
    with pytest.raises(ImageError, match="is 10x10 but the image is 50x60"):
        effects.blur_background(img, np.zeros((10, 10), np.float32))
    with pytest.raises(ImageError, match="NaN"):
        effects.cutout(img, np.full((60, 50), np.nan, np.float32))
    with pytest.raises(ImageError, match="uint8"):
        effects.cutout(img.astype(np.float32), m)
    with pytest.raises(ValueError):
        effects.blur_background(img, m, strength=-1)
    with pytest.raises(ValueError):
        effects.apply_effect("sparkle", img, m)


def test_effects_on_large_image_keep_size() -> None:
    img = np.zeros((3000, 4000, 3), np.uint8)
    img[::7] = 200
    mask = np.zeros((3000, 4000), np.float32)
    mask[1000:2000, 1500:2500] = 1
    out = effects.blur_background(img, mask)
    assert out.shape == img.shape
    np.testing.assert_array_equal(out[1000:2000, 1500:2500], img[1000:2000, 1500:2500])
    assert np.abs(out[:500].astype(int) - img[:500]).mean() > 10


@pytest.mark.parametrize("background", [None, 7, 2.5, {"r": 1}, (1, 2), (0, 0, 256), (0.5, 1, 2), "#12", "blue"])
def test_replace_background_rejects_bad_backgrounds_clearly(background: object) -> None:
    """issue 13: replace_background(..., None) raised TypeError: 'NoneType' object is not iterable."""
    img, gt = red_person(30, 20)
    with pytest.raises(ValueError, match="colour|background"):
        effects.replace_background(img, gt, background)  # type: ignore[arg-type]


def test_replace_background_accepts_the_documented_colours() -> None:
    img, gt = red_person(30, 20)
    for bg in ("#3A7BD5", "3A7BD5", "58,123,213", (58, 123, 213), [58, 123, 213]):
        out = effects.replace_background(img, gt.astype(np.float32), bg)
        assert tuple(out[0, 0]) == (58, 123, 213)
