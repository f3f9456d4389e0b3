"""Dataset folders (and their errors), the training cache, batched augmentation."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from support.datasets import make_portrait_folder
from portrait_mobile.data.augment import (AUGMENT_PRESETS, AugmentConfig, augment, background_swap, person_exits,
                                          to_batch)
from portrait_mobile.data.cache import (CacheSource, build_cache, join_cache_parts, join_caches, load_cache,
                                        split_cache)
from portrait_mobile.data.carve import carve, is_validation
from portrait_mobile.data.folder import PortraitFolder, parse_source, read_mask
from portrait_mobile.errors import DatasetError


def test_folder_reads_pairs(tiny_dataset: Path) -> None:
    ds = PortraitFolder(tiny_dataset, "train")
    assert len(ds) == 3
    s = ds[0]
    assert s.image.dtype == np.uint8 and s.image.shape == (48, 40, 3)
    assert s.mask.shape == (48, 40) and set(np.unique(s.mask)) <= {0, 255}


def test_folder_errors_name_the_file(tmp_path: Path) -> None:
    root = make_portrait_folder(tmp_path / "d", n=2)
    with pytest.raises(DatasetError, match="not found"):
        PortraitFolder(tmp_path / "missing")
    with pytest.raises(DatasetError, match="split list not found"):
        PortraitFolder(root, "val")
    cv2.imwrite(str(root / "masks" / "0001.png"), np.zeros((10, 10), np.uint8))
    with pytest.raises(DatasetError, match="0001.png is 10x10"):
        PortraitFolder(root, "train")[1]
    (root / "masks" / "0000.png").unlink()
    with pytest.raises(DatasetError, match="mask: image not found: .*0000.png"):
        PortraitFolder(root, "train")[0]
    (root / "images" / "0000.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DatasetError, match="0000.jpg: not an image"):
        PortraitFolder(root, "train", labelled=False)[0]
    empty = tmp_path / "empty"
    (empty / "images").mkdir(parents=True)
    (empty / "masks").mkdir()
    with pytest.raises(DatasetError, match="no images"):
        PortraitFolder(empty)


def test_a_mask_that_is_not_grey_is_refused_not_guessed(tmp_path: Path) -> None:
    """Red-on-black masks scored fg IoU 0 and masks whose person is the alpha (colour 0) 66.6, exit 0."""
    root = make_portrait_folder(tmp_path / "d", n=1)
    path = root / "masks" / "0000.png"
    grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    zero = np.zeros_like(grey)
    for name, pixels, says in [("red on black", np.dstack([zero, zero, grey]), "is in colour"),  # BGR
                               ("person in the alpha", np.dstack([zero, zero, zero, grey]), "has an alpha channel")]:
        cv2.imwrite(str(path), pixels)
        with pytest.raises(DatasetError, match=f"mask {path} {says}"):
            read_mask(path)
    # Grey in any layout reads as the same mask: three equal channels, or an alpha that hides nothing.
    for pixels in (np.dstack([grey] * 3), np.dstack([grey] * 3 + [np.full_like(grey, 255)])):
        cv2.imwrite(str(path), pixels)
        np.testing.assert_array_equal(read_mask(path), np.where(grey > 127, 255, 0))


def test_the_real_datasets_masks_are_grey(shared_datasets: Path) -> None:
    for name in ("pfcn", "picsart", "voc_person", "ccp", "vitonplus"):
        masks = sorted((shared_datasets / name / "masks").glob("*.png"))
        assert masks, name
        for path in masks[:: max(1, len(masks) // 5)]:
            assert set(np.unique(read_mask(path))) <= {0, 255}


def test_carve_is_a_folder_of_the_held_out_ids(tmp_path: Path) -> None:
    folder = PortraitFolder(make_portrait_folder(tmp_path / "s", n=30), "train")
    part = carve(folder)
    assert part.name == "s/train carve" and part.ids == [i for i in folder.ids if is_validation(i, "s/train")]
    assert part[0].id == part.ids[0] and len(folder) == 30  # reads its own photos; the list is untouched
    with pytest.raises(DatasetError, match="no such ids"):
        folder.subset(["9999"], "x")


def test_parse_source() -> None:
    assert parse_source("../shared/datasets/pfcn:test") == (Path("../shared/datasets/pfcn"), "test")
    assert parse_source("/data/set") == (Path("/data/set"), None)


def test_cache_round_trip_and_validation_carve(tmp_path: Path) -> None:
    a = make_portrait_folder(tmp_path / "a", n=6, size=(80, 60))
    b = make_portrait_folder(tmp_path / "b", n=4, size=(50, 70), seed=1)
    teacher = lambda img: img[..., 0].astype(np.float32) / 255.0  # noqa: E731
    out = build_cache([CacheSource(a, "train", val_fraction=0.5), CacheSource(b, "train", labelled=False)],
                      tmp_path / "c.npz", size=32, teacher=teacher, progress=False)
    c = load_cache(out, progress=False)
    assert c.images.shape == (10, 32, 32, 3) and c.masks.shape == (10, 32, 32)
    assert c.has_mask.tolist() == [True] * 6 + [False] * 4
    assert not c.is_val[6:].any()  # unlabelled samples never validate
    assert c.is_val[:6].tolist() == [is_validation(f"{i:04d}", "a/train", 0.5) for i in range(6)]
    # The person is where the mask says, after resizing.
    img = c.images[0].astype(int)
    assert img[c.masks[0] > 200].mean() > img[c.masks[0] < 50].mean() + 50
    assert c.teacher[0].max() > 0 and c.teacher[9].max() > 0
    with pytest.raises(DatasetError, match="not found"):
        load_cache(tmp_path / "nope.npz")
    (tmp_path / "bad.npz").write_bytes(b"junk")
    with pytest.raises(DatasetError, match="not a training cache"):
        load_cache(tmp_path / "bad.npz")


def test_a_cache_split_and_joined_again_is_the_same(tmp_path: Path) -> None:
    from support.datasets import make_tiny_cache

    cache = make_tiny_cache(tmp_path / "d", n=9)
    parts = split_cache(cache, 3, tmp_path / "parts")
    assert len(parts) == 3 and all(p.stat().st_size < cache.stat().st_size for p in parts)
    a, b = load_cache(cache, progress=False), load_cache(join_caches(parts, tmp_path / "j.npz"), progress=False)
    for f in ("ids", "sources", "images", "masks", "teacher", "has_mask", "has_teacher", "is_val"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    with pytest.raises(DatasetError, match="cannot split"):
        split_cache(cache, 100, tmp_path / "x")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(DatasetError, match="not a training cache"):
        join_caches([parts[0], tmp_path / "junk.npz"], tmp_path / "k.npz")


def test_cache_parts_join_in_their_numbers_order_and_only_when_complete(tmp_path: Path) -> None:
    from support.datasets import make_tiny_cache

    cache = make_tiny_cache(tmp_path / "d", n=12)
    parts = split_cache(cache, 12, tmp_path / "parts")  # part10of12 sorts before part2of12 by name
    a = load_cache(cache, progress=False)
    b = load_cache(join_cache_parts(tmp_path / "parts", tmp_path / "j.npz"), progress=False)
    assert list(b.ids) == list(a.ids) and np.array_equal(a.images, b.images)
    parts[4].unlink()
    with pytest.raises(DatasetError, match="expected parts 1..N"):
        join_cache_parts(tmp_path / "parts", tmp_path / "k.npz")
    with pytest.raises(DatasetError, match="found none"):
        join_cache_parts(tmp_path / "empty", tmp_path / "k.npz")
    assert not (tmp_path / "k.npz").exists()


def _batch(n: int = 4, size: int = 32) -> tuple:
    g = torch.Generator().manual_seed(0)
    mask = torch.zeros(n, size, size, dtype=torch.uint8)
    mask[:, 8:24, 10:22] = 255
    img = torch.randint(0, 60, (n, size, size, 3), generator=g, dtype=torch.uint8)
    img[mask > 0] = 200
    return img, mask, mask.clone(), torch.ones(n, dtype=torch.bool), torch.ones(n, dtype=torch.bool)


def _dark(n: int = 4, size: int = 32) -> torch.Tensor:
    return torch.full((n, 3, size, size), 0.05)


NO_PHOTO = AugmentConfig(brightness=0, contrast=0, saturation=0, hue_gain=0, gamma=(1, 1), blur_p=0,
                         noise_p=0, gray_p=0, background_swap_p=0)


def test_augment_moves_image_and_mask_together() -> None:
    b = augment(to_batch(*_batch()), NO_PHOTO, torch.Generator().manual_seed(3), _dark())
    assert b.image.shape == (4, 3, 32, 32) and b.mask.shape == (4, 1, 32, 32)
    bright = b.image.mean(1, keepdim=True) > 0.5
    person = b.mask > 0.5
    agreement = (bright == person).float().mean()
    assert agreement > 0.95
    assert not torch.equal(b.mask, to_batch(*_batch()).mask)  # something really moved


def test_augment_is_seeded_and_bounded() -> None:
    cfg = AugmentConfig()
    a = augment(to_batch(*_batch()), cfg, torch.Generator().manual_seed(5), _dark())
    b = augment(to_batch(*_batch()), cfg, torch.Generator().manual_seed(5), _dark())
    assert torch.equal(a.image, b.image)
    assert a.image.min() >= 0 and a.image.max() <= 1


def test_light_preset_changes_less_than_full() -> None:
    """The fine-tune preset keeps the framing: masks and pixels move less than under the full one."""
    def change(name: str) -> tuple[float, float]:
        ref = to_batch(*_batch(64))
        b = augment(to_batch(*_batch(64)), AUGMENT_PRESETS[name], torch.Generator().manual_seed(11), _dark(64))
        return (b.mask - ref.mask).abs().mean().item(), (b.image - ref.image).abs().mean().item()

    light, full = change("light"), change("full")
    assert 0 < light[0] < 0.8 * full[0]
    assert 0 < light[1] < full[1]


def test_background_swap_keeps_person_changes_background() -> None:
    img, mask, teacher, hm, ht = _batch()
    orig = to_batch(img, mask, teacher, hm, ht)
    scene = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    out = background_swap(orig, 1.0, torch.Generator().manual_seed(0), scene)
    person = orig.mask[0, 0] > 0.5
    assert torch.allclose(out.image[0][:, person], orig.image[0][:, person])
    assert torch.allclose(out.image[0][:, ~person], scene[0][:, ~person])
    assert out.teacher_weight.sum() == 0  # the teacher never saw the swapped images


def test_zoom_out_fills_with_background_not_a_mirror() -> None:
    """What a zoom-out uncovers is the given scene with mask and teacher 0, never a reflected person."""
    zoom_out = AugmentConfig(scale=(0.5, 0.5), aspect=(1, 1), max_rotate_deg=0, max_shift=0, flip_p=0,
                             brightness=0, contrast=0, saturation=0, hue_gain=0, gamma=(1, 1), blur_p=0,
                             noise_p=0, gray_p=0, background_swap_p=0)
    img, mask, teacher, hm, ht = _batch()
    mask[:] = 0
    mask[:, 2:-2, 2:-2] = 255  # a person filling the frame but leaving it nowhere: a mirror would be all person
    scene = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    b = augment(to_batch(img, mask, teacher, hm, ht), zoom_out, torch.Generator().manual_seed(0), scene)
    border = torch.zeros(32, 32, dtype=torch.bool)
    border[:6], border[-6:], border[:, :6], border[:, -6:] = True, True, True, True
    assert b.mask[:, 0][:, border].max() == 0 and b.teacher[:, 0][:, border].max() == 0
    assert torch.allclose(b.image[:, :, border], scene[:, :, border], atol=1e-5)
    assert b.mask[:, 0, 16, 16].min() == 1  # the person is still in the middle, half the size


def test_person_exits_read_the_label_else_the_teacher() -> None:
    img, mask, teacher, hm, ht = _batch(4, 32)
    mask[:] = 0
    teacher[:] = 0
    mask[0, 20:, 8:24] = 255  # a torso leaving by the bottom
    mask[1, 10:20, :5] = 255  # an arm leaving by the left
    mask[2, 10:20, 10:20] = 255  # inside the frame
    teacher[3, :4, :] = 255  # unlabelled: the teacher's person leaves by the top
    hm[3] = False
    got = person_exits(to_batch(img, mask, teacher, hm, ht)).tolist()  # left, right, top, bottom
    assert got == [[False, False, False, True], [True, False, False, False], [False] * 4,
                   [True, True, True, False]]


EXITS = AugmentConfig(scale=(0.6, 0.9), aspect=(0.8, 1.25), max_rotate_deg=15, max_shift=0.15, flip_p=0.5,
                      brightness=0, contrast=0, saturation=0, hue_gain=0, gamma=(1, 1), blur_p=0,
                      noise_p=0, gray_p=0, background_swap_p=0)


def test_zoom_out_keeps_a_cut_body_cut_by_the_frame() -> None:
    """A torso leaving the frame at the bottom still does after a zoom-out, tilt and shift: no fill
    scene under it (which taught the model that frame borders are background)."""
    img, mask, teacher, hm, ht = _batch(8, 32)
    mask[:] = 0
    mask[:, 14:, 6:26] = 255  # head-and-shoulders: leaves by the bottom only
    img[:] = 200
    scene = torch.zeros(8, 3, 32, 32)
    for anchored in (True, False):
        cfg = AugmentConfig(**{**EXITS.__dict__, "anchor_exits": anchored})
        b = augment(to_batch(img, mask, teacher, hm, ht), cfg, torch.Generator().manual_seed(4), scene)
        reaches_bottom = b.mask[:, 0, -1, :].amax(1) > 0.5  # the torso still leaves by the last row
        if anchored:
            assert reaches_bottom.all()
            assert (b.image[:, :, 0, :] < 0.5).all()  # the zoom-out still uncovers the scene above
        else:
            assert (~reaches_bottom).sum() >= 4  # what the warp did before: a fill under most torsos


def test_a_person_leaving_by_opposite_borders_cancels_the_zoom_out() -> None:
    img, mask, teacher, hm, ht = _batch(8, 32)
    mask[:] = 0
    mask[:, 12:, :] = 255  # shoulders cut by both sides and the bottom
    img[:] = 200
    b = augment(to_batch(img, mask, teacher, hm, ht), EXITS, torch.Generator().manual_seed(5), torch.zeros(8, 3, 32, 32))
    last_rows, sides = b.image[:, :, -1, :], torch.cat([b.image[:, :, 12:, 0], b.image[:, :, 12:, -1]], 2)
    assert (last_rows > 0.5).all() and (sides > 0.5).all()


def test_no_exit_no_change() -> None:
    img, mask, teacher, hm, ht = _batch(8, 32)
    runs = [augment(to_batch(img, mask, teacher, hm, ht), AugmentConfig(**{**EXITS.__dict__, "anchor_exits": a}),
                    torch.Generator().manual_seed(6), _dark(8)) for a in (True, False)]
    assert torch.equal(runs[0].image, runs[1].image) and torch.equal(runs[0].mask, runs[1].mask)


def test_aspect_stretch_changes_the_framing() -> None:
    """Independent x/y scales: a square person comes out wider than tall or taller than wide."""
    cfg = AugmentConfig(scale=(1, 1), aspect=(0.75, 1.33), max_rotate_deg=0, max_shift=0, flip_p=0,
                        background_swap_p=0)
    img, mask, teacher, hm, ht = _batch(64)
    mask[:] = 0
    mask[:, 10:22, 10:22] = 255
    b = augment(to_batch(img, mask, teacher, hm, ht), cfg, torch.Generator().manual_seed(0), _dark(64))
    rows = (b.mask[:, 0] > 0.5).any(2).sum(1).float()
    cols = (b.mask[:, 0] > 0.5).any(1).sum(1).float()
    ratio = cols / rows
    assert ratio.max() > 1.1 and ratio.min() < 0.9


def test_background_donors_are_the_least_person_samples() -> None:
    from portrait_mobile.data.cache import CachedSet
    from portrait_mobile.train.trainer import background_donors

    n = 16
    masks = np.zeros((n, 8, 8), np.uint8)
    for i in range(n):
        masks[i, : i // 2] = 255  # person share grows with i
    data = CachedSet(np.arange(n).astype(str), np.array(["s"] * n), np.zeros((n, 8, 8, 3), np.uint8), masks,
                     np.zeros((n, 8, 8), np.uint8), np.ones(n, bool), np.zeros(n, bool), np.zeros(n, bool))
    donors = background_donors(data, max_person=0.25)
    person = masks.reshape(n, -1).mean(1) / 255
    assert set(donors.tolist()) == set(np.flatnonzero(person <= 0.25).tolist())
    assert person[donors].max() < person[np.setdiff1d(np.arange(n), donors)].min()


def test_augment_at_a_lower_training_size() -> None:
    """Progressive resolution: the batch comes out at the asked side, image and mask still together,
    the partial-label flags carried through."""
    img, mask, teacher, hm, ht = _batch(size=64)
    partial = torch.tensor([1, 0, 1, 0])
    b = augment(to_batch(img, mask, teacher, hm, ht, partial), NO_PHOTO, torch.Generator().manual_seed(3),
                _dark(size=64), size=32)
    assert b.image.shape == (4, 3, 32, 32) and b.mask.shape == b.teacher.shape == (4, 1, 32, 32)
    assert ((b.image.mean(1, keepdim=True) > 0.5) == (b.mask > 0.5)).float().mean() > 0.93
    assert torch.equal(b.partial_label, partial.float())
    same = augment(to_batch(*_batch(size=64)), NO_PHOTO, torch.Generator().manual_seed(3), _dark(size=64), size=64)
    assert same.image.shape[-1] == 64
