"""The accurate level's band logic on hand-made masks: which tiles run, what they read, how their
output comes back. A stand-in runner (no model) makes each property visible on its own."""
from __future__ import annotations

import numpy as np
import pytest

from portrait_mobile.errors import ImageError, ModelLoadError
from portrait_mobile.runtime.band import (ACCURATE_SNAP, FEATHER, TileGrid, blend_tiles, contour, crop_tiles,
                                          feather_weight, fewest_tiles_offset, gather_tiles, grow_by, offset_step,
                                          photo_rects, refine_band, run_batched, select_tiles, shrink_by, to_work,
                                          work_size)

GRID = TileGrid(core=40, margin=4, out_stride=2, work_long_side=512)


def disc(h: int, w: int, cy: float, cx: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    return (yy - cy) ** 2 + (xx - cx) ** 2 < r ** 2


def u8(mask: np.ndarray) -> np.ndarray:
    return np.where(mask, 255, 0).astype(np.uint8)


def test_work_size_brings_the_long_side_down_never_up() -> None:
    assert work_size(800, 600, 512) == (512, 384)
    assert work_size(1080, 1920, 512) == (288, 512)
    assert work_size(320, 240, 512) == (320, 240)


def test_only_tiles_the_contour_crosses_are_selected() -> None:
    prob = u8(disc(200, 200, 100, 100, 50))
    origins = select_tiles(prob, GRID, (0, 0))
    edge = contour(prob)
    assert len(origins) > 0
    for y, x in origins:
        assert edge[y:y + 40, x:x + 40].any()
    # Every contour pixel lies in a selected tile's core.
    covered = np.zeros_like(edge)
    for y, x in origins:
        covered[max(0, y):y + 40, max(0, x):x + 40] = True
    assert not (edge & ~covered).any()
    # The tile in the middle of the disc (all person) and the corners (all background) are not run.
    assert not any((y, x) == (80, 80) for y, x in origins.tolist())
    assert not any((y, x) == (0, 0) for y, x in origins.tolist())


def test_no_contour_no_tiles_and_the_mask_is_returned_as_it_is() -> None:
    image = np.zeros((100, 80, 3), np.uint8)
    calls = []
    for p in (np.ones((100, 80), np.float32), np.zeros((100, 80), np.float32)):
        out = refine_band(image, p, lambda t: calls.append(t) or t, GRID)
        np.testing.assert_array_equal(out, p)
    assert calls == []
    # The frame's border is not a contour: a person filling the bottom half, cut by the frame.
    half = np.zeros((100, 80), np.uint8)
    half[50:] = 255
    assert all(y in (40,) for y, _ in select_tiles(half, GRID))


def test_shifted_grid_covers_the_same_contour() -> None:
    prob = u8(disc(150, 130, 70, 60, 40))
    edge = contour(prob)
    for offset in ((0, 0), (7, 31), (39, 1)):
        covered = np.zeros_like(edge)
        for y, x in select_tiles(prob, GRID, offset):
            covered[max(0, y):max(0, y + 40), max(0, x):max(0, x + 40)] = True
        assert not (edge & ~covered).any()
    with pytest.raises(ValueError):
        select_tiles(prob, GRID, (40, 0))


def covered_by(origins: np.ndarray, shape: tuple[int, int], core: int) -> np.ndarray:
    covered = np.zeros(shape, bool)
    for y, x in origins:
        covered[max(0, y):max(0, y + core), max(0, x):max(0, x + core)] = True
    return covered


def test_offset_step_divides_the_core_into_at_most_eight_steps() -> None:
    assert offset_step(GRID) == 5
    assert offset_step(TileGrid(core=8, margin=2, out_stride=2, work_long_side=48)) == 1
    assert offset_step(TileGrid(core=7, margin=2, out_stride=1, work_long_side=48)) == 1
    assert offset_step(TileGrid(core=48, margin=4, out_stride=2, work_long_side=512)) == 6


def test_the_runtime_grid_covers_the_contour_with_the_fewest_tiles() -> None:
    """A disc that a fixed grid cuts into four tiles; a grid moved by 20 pixels holds it in one."""
    prob = u8(disc(120, 120, 40, 40, 12))
    edge = contour(prob)
    fixed = select_tiles(prob, GRID, (0, 0))
    moved = select_tiles(prob, GRID)
    assert len(fixed) == 4 and len(moved) == 1
    assert not (edge & ~covered_by(moved, edge.shape, 40)).any()
    # The contour spans rows and columns 28-52: offsets 15-25 hold it in one core, the first is taken.
    assert fewest_tiles_offset(edge, GRID) == (15, 15)
    assert moved.tolist() == [[25, 25]]
    # The grid starts at -offset: a person from row 4 to row 79 has its contour on rows 3-4 and 79-80,
    # three rows of cores unshifted, two when the first row of cores starts 5 pixels above the frame.
    band = np.zeros((120, 120), np.uint8)
    band[4:80] = 255
    assert len(select_tiles(band, GRID, (0, 0))) == 9
    assert select_tiles(band, GRID).tolist() == [[-5, 0], [-5, 40], [-5, 80], [75, 0], [75, 40], [75, 80]]


@pytest.mark.parametrize("seed", range(6))
def test_the_searched_offset_is_the_best_of_every_step_offset(seed: int) -> None:
    """The block count equals select_tiles' count at every offset: the search returns the first offset
    (row-major) of the fewest tiles, never more than the fixed grid."""
    rng = np.random.default_rng(seed)
    h, w = rng.integers(60, 180, size=2)
    mask = np.zeros((h, w), bool)
    for _ in range(3):
        mask |= disc(h, w, *rng.uniform(0, [h, w]), rng.uniform(6, 40))
    prob = u8(mask)
    edge = contour(prob)
    counts = {(a, b): len(select_tiles(prob, GRID, (a, b))) for a in range(0, 40, 5) for b in range(0, 40, 5)}
    fewest = min(counts.values())
    first = next(o for o, n in counts.items() if n == fewest)
    assert fewest_tiles_offset(edge, GRID) == first
    assert len(select_tiles(prob, GRID)) == fewest <= counts[(0, 0)]
    assert not (edge & ~covered_by(select_tiles(prob, GRID), edge.shape, 40)).any()


def test_ties_keep_the_unshifted_grid() -> None:
    assert fewest_tiles_offset(np.zeros((90, 70), bool), GRID) == (0, 0)
    # One contour pixel: every offset needs one tile.
    one = np.zeros((90, 70), bool)
    one[33, 21] = True
    assert fewest_tiles_offset(one, GRID) == (0, 0)


def test_tiles_read_core_plus_margin_with_edges_repeated() -> None:
    h, w = 90, 70
    image = np.arange(h * w * 3, dtype=np.uint32).reshape(h, w, 3).astype(np.uint8)
    prob = np.arange(h * w, dtype=np.uint32).reshape(h, w).astype(np.uint8)
    origins = np.array([[40, 0], [0, 40]])
    tiles = gather_tiles(image, prob, origins, GRID)
    assert tiles.shape == (2, 48, 48, 4) and tiles.dtype == np.uint8
    np.testing.assert_array_equal(tiles[0, 4:48, 4:48, :3], image[40:84, 0:44])
    np.testing.assert_array_equal(tiles[0, 4:48, 4:48, 3], prob[40:84, 0:44])
    # Left of the frame: column 0 repeated; past the right edge: the last column.
    np.testing.assert_array_equal(tiles[0, 4:48, 0, :3], image[40:84, 0])
    np.testing.assert_array_equal(tiles[1, 4, 4 + 29:, 3], np.full(48 - 33, prob[0, w - 1]))
    one = crop_tiles(prob, origins, GRID)
    assert one.shape == (2, 48, 48)
    with pytest.raises(ImageError):
        gather_tiles(image, prob[:10], origins, GRID)


def test_blend_writes_each_core_and_nothing_else() -> None:
    prob = np.full((100, 100), 0.25, np.float32)
    origins = np.array([[0, 40], [80, 80]])  # the second core reaches past the frame
    outputs = np.stack([np.full((24, 24), 0.75, np.float32), np.full((24, 24), 1.0, np.float32)])
    out = blend_tiles(prob, outputs, origins, GRID, feather=0)
    assert out is not prob and (prob == 0.25).all()
    np.testing.assert_allclose(out[0:40, 40:80], 0.75)
    np.testing.assert_allclose(out[80:, 80:], 1.0)
    untouched = np.ones((100, 100), bool)
    untouched[0:40, 40:80] = untouched[80:, 80:] = False
    assert (out[untouched] == 0.25).all()
    with pytest.raises(ModelLoadError):
        blend_tiles(prob, outputs[:, :12, :12], origins, GRID)


def test_feather_weight_ramps_by_chessboard_distance_inside_the_refined_region() -> None:
    # Two cores side by side (one region) and one alone in the frame's bottom-right corner.
    origins = np.array([[40, 0], [40, 40], [160, 160]])
    wt = feather_weight(origins, GRID, (200, 200), width=3)
    assert wt.dtype == np.float32 and wt.shape == (200, 200)
    assert (wt[:40] == 0).all() and (wt[80:160] == 0).all()  # outside the cores
    # Across the top edge of the pair: 1/4, 2/4, 3/4, then 1; the seam between the two cores is no edge.
    np.testing.assert_allclose(wt[40:46, 40], [0.25, 0.5, 0.75, 1, 1, 1])
    np.testing.assert_allclose(wt[60, 36:44], 1.0)
    # The frame's left border is no edge either; a corner takes its chessboard distance.
    np.testing.assert_allclose(wt[60, 0:3], 1.0)
    np.testing.assert_allclose(wt[40:44, 77:80], [[0.25] * 3, [0.5, 0.5, 0.25], [0.75, 0.5, 0.25], [0.75, 0.5, 0.25]])
    np.testing.assert_allclose(wt[160, 160:164], 0.25)
    np.testing.assert_allclose(wt[199, 199], 1.0)
    # Width 0: the region itself.
    np.testing.assert_array_equal(feather_weight(origins, GRID, (200, 200), width=0) > 0, wt > 0)
    with pytest.raises(ValueError):
        feather_weight(origins, GRID, (200, 200), width=-1)


def test_blend_hands_over_to_the_mask_at_the_refined_regions_edge() -> None:
    # A soft mask (0.3) and a refiner that says 0.6 on one tile: with the default width the value
    # climbs in steps of at most 0.3 / (FEATHER + 1) from the untouched mask into the core.
    prob = np.full((120, 120), 0.3, np.float32)
    origins = np.array([[40, 40]])
    out = blend_tiles(prob, np.full((1, 24, 24), 0.6, np.float32), origins, GRID)
    row = out[60, 30:70]
    steps = np.abs(np.diff(row))
    assert steps.max() <= 0.3 / (FEATHER + 1) + 1e-6
    np.testing.assert_allclose(out[60, 40 + FEATHER:80 - FEATHER], 0.6, atol=1e-6)
    hard = blend_tiles(prob, np.full((1, 24, 24), 0.6, np.float32), origins, GRID, feather=0)
    assert np.abs(np.diff(hard[60, 30:70])).max() == pytest.approx(0.3, abs=1e-6)


def test_snapped_tiles_hand_over_without_a_step() -> None:
    # A soft, flat mask next to a sharp disc: the snap steepens what it filters, so inside the tiles
    # the soft background goes towards 0; at the refined region's edge that must not be a jump.
    h, w = 512, 512
    truth = disc(h, w, 256, 256, 150)
    image = np.where(truth[..., None], 210, 40).astype(np.uint8).repeat(3, axis=2)
    prob = np.where(truth, 0.9, 0.3).astype(np.float32)

    def identity(tiles: np.ndarray) -> np.ndarray:
        return tiles[:, ::2, ::2, 3].astype(np.float32) / 255

    far = ~disc(h, w, 256, 256, 200)

    def biggest_step(out: np.ndarray) -> float:
        """The largest change between two neighbouring pixels both far from the disc's edge."""
        dy = np.abs(np.diff(out, axis=0))[far[1:] & far[:-1]]
        dx = np.abs(np.diff(out, axis=1))[far[:, 1:] & far[:, :-1]]
        return float(max(dy.max(), dx.max()))

    hard = refine_band(image, prob, identity, GRID, snap=ACCURATE_SNAP, feather=0)
    soft = refine_band(image, prob, identity, GRID, snap=ACCURATE_SNAP)
    # Away from the disc's edge the hard version has a step where the tiles end; the feathered one
    # climbs in steps of at most a quarter of it.
    step_hard = biggest_step(hard)
    assert step_hard > 0.15
    assert biggest_step(soft) < step_hard / 4
    # The contour itself is where it was with the hard edge.
    assert ((soft >= 0.5) != (hard >= 0.5)).mean() < 1e-3


def test_identity_runner_leaves_a_clean_edge_as_it_is() -> None:
    # A runner that returns its input's probability at the output's resolution changes nothing but
    # the uint8 rounding and the 2x resampling: the 0.5 contour stays where it was.
    truth = disc(300, 240, 150, 120, 90)
    image = np.where(truth[..., None], 220, 30).astype(np.uint8).repeat(3, axis=2)

    def identity(tiles: np.ndarray) -> np.ndarray:
        return tiles[:, ::2, ::2, 3].astype(np.float32) / 255

    out = refine_band(image, truth.astype(np.float32), identity, GRID)
    assert out.shape == truth.shape
    assert ((out >= 0.5) == truth).mean() > 0.995


def test_cores_that_start_outside_the_frame_come_back_where_they_were_read() -> None:
    """The grid shifted 5 pixels above the frame (cores at rows -5 and 75): a runner that answers 0.5
    everywhere shows exactly which rows each core wrote, and the feather into the unrefined rows."""
    truth = np.zeros((120, 120), bool)
    truth[4:80] = True
    assert sorted({y for y, _ in select_tiles(u8(truth), GRID).tolist()}) == [-5, 75]
    image = np.where(truth[..., None], 220, 30).astype(np.uint8).repeat(3, axis=2)

    def half(tiles: np.ndarray) -> np.ndarray:
        return np.full((len(tiles), tiles.shape[1] // 2, tiles.shape[2] // 2), 0.5, np.float32)

    out = refine_band(image, truth.astype(np.float32), half, GRID)
    # The feather ramps over the last FEATHER rows inside each refined region.
    np.testing.assert_array_equal(out[:35 - FEATHER], 0.5)  # the core of rows -5..34, in the frame
    np.testing.assert_array_equal(out[35:75], 1.0)  # unrefined person rows
    np.testing.assert_array_equal(out[75 + FEATHER:115 - FEATHER], 0.5)  # the core of rows 75..114
    np.testing.assert_array_equal(out[115:], 0.0)  # unrefined background rows
    assert (np.diff(out[35 - FEATHER - 1:36, 0]) > 0).all() and (np.diff(out[115 - FEATHER - 1:116, 0]) < 0).all()


def test_a_jagged_edge_is_replaced_where_the_runner_corrects_it() -> None:
    # Coarse: a staircase (the disc at 1/8 resolution, nearest-upsampled). A runner that sees the image
    # and returns it thresholded (an oracle of what the refiner learns) fixes every selected tile;
    # since every tile with a jagged contour is selected, the whole edge is fixed.
    h, w = 320, 256
    truth = disc(h, w, 160, 128, 100)
    image = np.where(truth[..., None], 220, 30).astype(np.uint8).repeat(3, axis=2)
    small = truth[::8, ::8].astype(np.float32)
    jagged = np.kron(small, np.ones((8, 8), np.float32))[:h, :w]

    def oracle(tiles: np.ndarray) -> np.ndarray:
        return (tiles[:, ::2, ::2, 0] > 128).astype(np.float32)

    before = ((jagged >= 0.5) != truth).sum()
    after = ((refine_band(image, jagged, oracle, GRID) >= 0.5) != truth).sum()
    # What is left is the output's half resolution: at most about one pixel along the contour.
    assert before > 2000 and after < before / 5 and after < 2 * np.pi * 100


def test_photo_rects_cover_each_core_at_the_photos_size() -> None:
    origins = np.array([[0, 0], [40, 80], [480, 360]])
    rects = photo_rects(origins, GRID, (512, 384), (1200, 900))
    s = 1200 / 512
    assert rects.tolist()[0] == [0, int(np.ceil(40 * s)), 0, int(np.ceil(40 * s))]
    assert rects[1, 0] <= 40 * s and rects[1, 1] >= 80 * s and rects[1, 2] <= 80 * s and rects[1, 3] >= 120 * s
    assert rects[2].tolist() == [int(480 * s), 1200, int(360 * s), 900]  # clipped to the photo


@pytest.mark.parametrize("scale", [1, 2])
def test_snap_moves_the_refined_edge_to_the_photos_edge_inside_the_tiles_only(scale: int) -> None:
    # A photo twice (four times) the working frame, its person a sharp disc; the "refiner" returns its
    # input, a mask 6 (12) photo pixels off: the snap pulls the contour onto the disc. At scale 2 the
    # photo is above ACCURATE_SNAP's long side: the snap runs at 1024 and is upsampled like the rest.
    h, w = 1024 * scale, 800 * scale
    truth = disc(h, w, 512 * scale, 400 * scale, 300 * scale)
    image = np.where(truth[..., None], 210, 40).astype(np.uint8).repeat(3, axis=2)
    off = disc(h, w, 518 * scale, 400 * scale, 300 * scale).astype(np.float32)

    def identity(tiles: np.ndarray) -> np.ndarray:
        return tiles[:, ::2, ::2, 3].astype(np.float32) / 255

    plain = refine_band(image, off, identity, GRID)
    snapped = refine_band(image, off, identity, GRID, snap=ACCURATE_SNAP)
    assert snapped.shape == (h, w) and snapped.dtype == np.float32
    wrong = lambda p: ((p >= 0.5) != truth).sum()  # noqa: E731
    assert wrong(plain) > 8000 * scale and wrong(snapped) < wrong(plain) / 2
    # Far from the contour (no tile there) the two are the same pixels.
    far = ~disc(h, w, 512 * scale, 400 * scale, 360 * scale) | disc(h, w, 512 * scale, 400 * scale, 240 * scale)
    np.testing.assert_array_equal(snapped[far], plain[far])
    # No contour, no snap: the mask comes back as it is.
    np.testing.assert_array_equal(refine_band(image, np.ones((h, w), np.float32), identity, GRID,
                                              snap=ACCURATE_SNAP), 1.0)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_shrink_and_grow_by_a_whole_factor_keep_an_edge_in_place(k: int) -> None:
    h, w = 1081, 1999  # neither a multiple of 2 nor of 3: the remainder is dropped, then repeated
    image = np.zeros((h, w, 3), np.uint8)
    image[:, 701:] = 255
    small = shrink_by(image, k)
    assert small.shape == (h // k, w // k, 3)
    back = grow_by(small[..., 0].astype(np.float32) / 255, k, (h, w))
    assert back.shape == (h, w)
    crossing = np.argmax(back >= 0.5, axis=1)
    assert np.abs(crossing - 701).max() <= 1
    assert shrink_by(image, 1) is image


def test_run_batched_pads_the_last_batch_and_keeps_the_order() -> None:
    tiles = np.arange(5 * 48 * 48 * 4, dtype=np.uint32).reshape(5, 48, 48, 4).astype(np.uint8)
    seen = []

    def runner(batch: np.ndarray) -> np.ndarray:
        seen.append(len(batch))
        return batch[:, ::2, ::2, 3].astype(np.float32)

    out = run_batched(runner, tiles, 4)
    assert seen == [4, 4] and out.shape == (5, 24, 24)
    np.testing.assert_array_equal(out, tiles[:, ::2, ::2, 3])


def test_to_work_resizes_photo_and_probability() -> None:
    image = np.zeros((800, 600, 3), np.uint8)
    img, prob = to_work(image, np.full((256, 256), 0.5, np.float32), GRID)
    assert img.shape == (512, 384, 3) and prob.shape == (512, 384) and prob.dtype == np.uint8
    assert (prob == 128).all()
    with pytest.raises(ImageError):
        to_work(image, np.full((256, 256), 2.0, np.float32), GRID)


def test_band_logic_and_refiner_geometry_need_no_torch() -> None:
    import subprocess
    import sys

    code = ("import sys; sys.modules['torch'] = None\n"
            "import portrait_mobile.runtime.band, portrait_mobile.refine.config as c\n"
            "print(c.get_refiner_config(c.DEFAULT_REFINER).grid().tile)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "40", r.stderr


def test_the_fourth_channel_is_the_coarse_probability_or_it_through_the_guided_filter() -> None:
    from portrait_mobile.runtime.band import COARSE, GUIDED, with_channel

    rng = np.random.default_rng(0)
    img = np.zeros((96, 128, 3), np.uint8)
    img[:, 64:] = 200  # a sharp edge in the photo
    img = np.clip(img.astype(int) + rng.integers(0, 20, img.shape), 0, 255).astype(np.uint8)
    prob = np.clip((np.arange(128) - 52) / 24, 0, 1)[None].repeat(96, 0)  # a soft coarse edge at the photo's
    p = (prob * 255).astype(np.uint8)
    assert with_channel(img, p, COARSE) is p
    g = with_channel(img, p, GUIDED)
    assert g.shape == p.shape and g.dtype == np.uint8
    # Snapped to the photo's edge: the same 0.5 crossing, a much steeper ramp.
    def soft(row: np.ndarray) -> int:
        return int(((row > 25) & (row < 230)).sum())

    assert abs(int(np.argmax(g[48] >= 128)) - int(np.argmax(p[48] >= 128))) <= 1 and soft(g[48]) < soft(p[48]) / 2
    with pytest.raises(ValueError, match="unknown refiner input channel"):
        with_channel(img, p, "depth")
