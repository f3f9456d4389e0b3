// The cleanup of the coarse mask, as the Python runtime's portrait_mobile/runtime/postprocess.py
// `clean_regions` does it before any quality level (Segmenter.finish; after the temporal smoothing for
// video): person regions smaller than `minRegion` x the largest one (detached false positives: a patch of
// wall, a bag) are set to 0, and holes the person encloses smaller than `maxHole` x its area (a missed
// patch of shirt) to 1, each with its soft edge.
//
// Person regions are 8-connected at the threshold and holes 4-connected (a hole never leaks through a
// diagonal the person holds); a hole is a background region that touches no side of the frame. The soft
// edge (`claim`): the pixels within `halo` pixels of the target (default 2% of the mask's diagonal) that
// are nearer it than its rival (the regions kept; the rest of the background), by the chamfer distance of
// OpenCV's cv2.distanceTransform(..., DIST_L2, 3) as its portable distransform.cpp computes it.
// tests/demos/test_web_demo.py holds every step to the Python runtime.
import { rint } from './preprocess.js';

// postprocess.DEFAULT_CLEANUP and NO_CLEANUP (test_js_cleanup_constants_match_python checks them).
export const DEFAULT_CLEANUP = Object.freeze({ minRegion: 0.1, maxHole: 0.002 });
export const NO_CLEANUP = Object.freeze({ minRegion: 0, maxHole: 0 });
export const THRESHOLD = 0.5; // clean_regions' default

/** RegionCleanup.for_level: quality accurate leaves the holes to its refiner, the other levels fill them. */
export function forLevel(cleanup, level) {
  return level === 'accurate' ? Object.freeze({ ...cleanup, maxHole: 0 }) : cleanup;
}

function checkCleanup({ minRegion, maxHole }) {
  for (const [name, v] of [['minRegion', minRegion], ['maxHole', maxHole]]) {
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new RangeError(`${name} must be a fraction in [0, 1], got ${v}`);
  }
}

/** postprocess._default_halo: 2% of the mask's diagonal, rounded half to even as Python's round, at least 1. */
export function defaultHalo(w, h) {
  return Math.max(1, rint(0.02 * Math.sqrt(h * h + w * w)));
}

// OpenCV's 3x3 chamfer steps for DIST_L2 (getDistanceTransformMask: 0.955 and 1.3693 as float), in its
// 16-bit fixed point (CV_FLT_TO_FIX), and its DIST_MAX (UINT_MAX - DIAG_DIST) outside the frame.
const SHIFT = 16;
const EDGE = rint(Math.fround(0.955) * (1 << SHIFT));
const DIAG = rint(Math.fround(1.3693) * (1 << SHIFT));
const FAR = 0xffffffff - DIAG;
const SCALE = 1 / (1 << SHIFT);

/**
 * cv2.distanceTransform(src, DIST_L2, 3) with src 0 where `to` (Uint8Array w*h) is nonzero: each pixel's
 * distance to the nearest such pixel, as OpenCV's portable distanceTransform_3x3 computes it in unsigned
 * fixed point (integers here, exact in doubles): a forward pass (up-left, up, up-right, left), a backward
 * one (down-right, down, down-left, right), each value then times 2^-16 as a float32. OpenCV's x86 wheels
 * run Intel IPP's float version instead, which can differ in the last bits (see the README).
 */
export function chamferDistance(to, w, h) {
  const s = w + 2; // a border of FAR on every side
  const t = new Float64Array(s * (h + 2)).fill(FAR);
  for (let y = 0; y < h; y++) {
    for (let x = 0, j = (y + 1) * s + 1; x < w; x++, j++) {
      if (to[y * w + x]) { t[j] = 0; continue; }
      let d = t[j - s - 1] + DIAG;
      let c = t[j - s] + EDGE; if (c < d) d = c;
      c = t[j - s + 1] + DIAG; if (c < d) d = c;
      c = t[j - 1] + EDGE; if (c < d) d = c;
      t[j] = d < FAR ? d : FAR;
    }
  }
  const out = new Float32Array(w * h);
  for (let y = h - 1; y >= 0; y--) {
    for (let x = w - 1, j = (y + 1) * s + w; x >= 0; x--, j--) {
      let d = t[j];
      if (d > EDGE) {
        let c = t[j + s + 1] + DIAG; if (c < d) d = c;
        c = t[j + s] + EDGE; if (c < d) d = c;
        c = t[j + s - 1] + DIAG; if (c < d) d = c;
        c = t[j + 1] + EDGE; if (c < d) d = c;
        t[j] = d;
      }
      out[y * w + x] = Math.fround(d) * SCALE;
    }
  }
  return out;
}

/**
 * The connected regions of `mask`'s nonzero pixels (8- or 4-connected): {label (Int32Array, -1 off the
 * mask), area, touchesSide} with one entry per region in the last two, as cv2.connectedComponentsWithStats'
 * areas and (through its bounding box) whether a region reaches a side of the frame.
 */
export function components(mask, w, h, eight) {
  const n = w * h;
  const label = new Int32Array(n).fill(-1);
  const area = [], touchesSide = [];
  const stack = new Int32Array(n);
  for (let start = 0; start < n; start++) {
    if (!mask[start] || label[start] >= 0) continue;
    const id = area.length;
    let count = 0, side = false, top = 0;
    label[start] = id;
    stack[top++] = start;
    while (top > 0) {
      const p = stack[--top];
      count++;
      const y = (p / w) | 0, x = p - y * w;
      if (x === 0 || y === 0 || x === w - 1 || y === h - 1) side = true;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= h) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= w || (dx === 0 && dy === 0) || (!eight && dx !== 0 && dy !== 0)) continue;
          const q = yy * w + xx;
          if (mask[q] && label[q] < 0) { label[q] = id; stack[top++] = q; }
        }
      }
    }
    area.push(count);
    touchesSide.push(side);
  }
  return { label, area, touchesSide };
}

/** postprocess._claim: `target` set to `value` in `prob` (in place), with the pixels within `halo` of it
 * that are nearer it than `rival`. */
function claim(prob, target, rival, w, h, halo, value) {
  const dRival = chamferDistance(rival, w, h);
  const dTarget = chamferDistance(target, w, h);
  for (let i = 0; i < prob.length; i++) {
    if (target[i] || (dTarget[i] <= halo && dTarget[i] < dRival[i])) prob[i] = value;
  }
}

/**
 * postprocess.clean_regions: `prob` (Float32Array w*h in [0, 1], the model-resolution probability)
 * without the small detached person regions and the small enclosed holes `cleanup` ({minRegion, maxHole},
 * fractions; 0 turns a part off) names, at `threshold`, each taken out with its soft edge (`halo` pixels;
 * null: defaultHalo). Returns a new Float32Array; `prob` is left as it is.
 */
export function cleanRegions(prob, w, h, cleanup = DEFAULT_CLEANUP, { threshold = THRESHOLD, halo = null } = {}) {
  if (!(w > 0 && h > 0) || prob.length !== w * h) throw new RangeError(`a ${w}x${h} mask has ${w * h} values, got ${prob.length}`);
  checkCleanup(cleanup);
  const out = Float32Array.from(prob);
  const { minRegion, maxHole } = cleanup;
  if (!(minRegion > 0 || maxHole > 0)) return out;
  const reach = halo ?? defaultHalo(w, h);
  const n = w * h;
  const cut = Math.fround(threshold);
  const fg = new Uint8Array(n);
  for (let i = 0; i < n; i++) fg[i] = prob[i] >= cut ? 1 : 0;
  if (minRegion > 0) {
    const { label, area } = components(fg, w, h, true);
    if (area.length > 1) {
      const largest = area.reduce((m, a) => (a > m ? a : m), 0);
      const small = area.map((a) => a < minRegion * largest);
      if (small.some(Boolean)) {
        const removed = new Uint8Array(n), kept = new Uint8Array(n);
        for (let i = 0; i < n; i++) {
          if (label[i] < 0) continue;
          if (small[label[i]]) removed[i] = 1;
          else kept[i] = 1;
        }
        claim(out, removed, kept, w, h, reach, 0);
        fg.set(kept);
      }
    }
  }
  let person = 0;
  for (let i = 0; i < n; i++) person += fg[i];
  if (maxHole > 0 && person > 0) {
    const background = new Uint8Array(n);
    for (let i = 0; i < n; i++) background[i] = 1 - fg[i];
    const { label, area, touchesSide } = components(background, w, h, false);
    const hole = area.map((a, k) => !touchesSide[k] && a < maxHole * person);
    if (hole.some(Boolean)) {
      const filled = new Uint8Array(n), rest = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        if (label[i] < 0) continue;
        if (hole[label[i]]) filled[i] = 1;
        else rest[i] = 1;
      }
      claim(out, filled, rest, w, h, reach, 1);
    }
  }
  return out;
}
