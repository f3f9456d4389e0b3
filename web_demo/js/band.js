// Quality "accurate" in the page: the band logic of portrait_mobile/runtime/band.py in JavaScript.
// The photo is brought to the refiner's working frame (its contract's tiles.work_long_side, never
// enlarged), the coarse probability resized to it (as uint8), its 4th channel made (the probability
// itself, or it through the runtime's guided filter: postprocess.refine_edges), the frame cut into
// core x core tiles (the grid shifted per photo so that as few tiles as possible cover the contour:
// OFFSET_STEPS), and only the tiles the 4th channel's 0.5 contour crosses go to the refiner; each
// output (at 1/out_stride) is resized to the tile and its core replaces the probability there, handed
// over to the probability around the refined region over FEATHER working-frame pixels (featherWeight).
// The accurate level then snaps the refined tiles to the photo's own edges (band.Snap): the guided filter
// inside those tiles only, at the photo's size (shrunk by a whole factor past 1024 and grown back),
// handed over the same way, the rest the working frame resized bilinearly.
// tests/demos/test_web_demo.py holds every step to the Python runtime.
import { areaTable, flat, linearTable, resizeRGBA, rint } from './preprocess.js';

/** (h, w) of the working frame: the long side brought to `longSide`, never enlarged. */
export function workSize(h, w, longSide) {
  const s = Math.min(1, longSide / Math.max(h, w));
  return [Math.max(1, Math.round(h * s)), Math.max(1, Math.round(w * s))];
}

/** cv2.resize of a float32 plane (sh x sw -> dh x dw): INTER_AREA when it shrinks, else INTER_LINEAR. */
export function resizePlane(src, sw, sh, dw, dh, shrinkArea = true) {
  if (sw === dw && sh === dh) return Float32Array.from(src);
  const area = shrinkArea && sw >= dw && sh >= dh && (sw > dw || sh > dh);
  const xt = flat(area ? areaTable(sw, dw) : linearTable(sw, dw));
  const yt = flat(area ? areaTable(sh, dh) : linearTable(sh, dh));
  const hor = new Float64Array(sh * dw);
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < dw; x++) {
      let a = 0;
      for (let k = xt.start[x]; k < xt.start[x + 1]; k++) a += src[y * sw + xt.idx[k]] * xt.wt[k];
      hor[y * dw + x] = a;
    }
  }
  const out = new Float32Array(dh * dw);
  for (let y = 0; y < dh; y++) {
    for (let k = yt.start[y]; k < yt.start[y + 1]; k++) {
      const r = yt.idx[k] * dw, wt = yt.wt[k];
      for (let x = 0; x < dw; x++) out[y * dw + x] += hor[r + x] * wt;
    }
  }
  return out;
}

/** Probability in [0, 1] -> uint8 (round(p * 255)), the tiles' encoding. */
export function toU8(p) {
  const out = new Uint8Array(p.length);
  for (let i = 0; i < p.length; i++) out[i] = Math.min(255, Math.max(0, rint(p[i] * 255)));
  return out;
}

// cv2.boxFilter (normalized, BORDER_REFLECT: fedcba|abcdef|fedcba) of an h x w plane, radius r.
function box(x, w, h, r) {
  const refl = (j, n) => {
    for (;;) {
      if (j < 0) j = -j - 1;
      else if (j >= n) j = 2 * n - j - 1;
      else return j;
    }
  };
  const k = 2 * r + 1;
  const tmp = new Float64Array(w * h);
  for (let y = 0; y < h; y++) {
    let s = 0;
    for (let j = -r; j <= r; j++) s += x[y * w + refl(j, w)];
    for (let i = 0; i < w; i++) {
      tmp[y * w + i] = s;
      s += x[y * w + refl(i + r + 1, w)] - x[y * w + refl(i - r, w)];
    }
  }
  const out = new Float32Array(w * h);
  for (let i = 0; i < w; i++) {
    let s = 0;
    for (let j = -r; j <= r; j++) s += tmp[refl(j, h) * w + i];
    for (let y = 0; y < h; y++) {
      out[y * w + i] = s / (k * k);
      s += tmp[refl(y + r + 1, h) * w + i] - tmp[refl(y - r, h) * w + i];
    }
  }
  return out;
}

/** refine_edges' default radius: 2% of the image's long side, at least 2 pixels. */
export function defaultRadius(w, h) {
  return Math.max(2, rint(0.02 * Math.max(h, w)));
}

/**
 * postprocess._fit_edges: the guided filter's box-averaged coefficients {A: [3 planes], B, gw, gh} on a
 * grid radius/`subsample` coarser than packed RGB `rgb` (w x h), for `prob` (float32, pw x ph, any size).
 */
function fitEdges(rgb, w, h, prob, pw, ph, radius, eps, subsample) {
  radius = Math.max(1, radius);
  const s = Math.max(1, Math.floor(radius / Math.max(1, subsample)));
  const gw = Math.max(1, Math.floor(w / s)), gh = Math.max(1, Math.floor(h / s));
  const n = gw * gh;
  let g;
  if (gw === w && gh === h) g = rgb;
  else {
    const rgba = new Uint8ClampedArray(w * h * 4);
    for (let i = 0; i < w * h; i++) { rgba[i * 4] = rgb[i * 3]; rgba[i * 4 + 1] = rgb[i * 3 + 1]; rgba[i * 4 + 2] = rgb[i * 3 + 2]; }
    g = resizeRGBA(rgba, w, h, gw, gh);
  }
  const I = [0, 1, 2].map((c) => { const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = g[i * 3 + c] / 255; return a; });
  const p = pw === gw && ph === gh ? prob : resizePlane(prob, pw, ph, gw, gh, ph > gh || pw > gw);
  const r = Math.max(1, rint(radius / s));
  const mul = (a, b) => { const o = new Float32Array(n); for (let i = 0; i < n; i++) o[i] = a[i] * b[i]; return o; };
  const meanP = box(p, gw, gh, r);
  const meanI = I.map((c) => box(c, gw, gh, r));
  const cov = I.map((c, k) => { const m = box(mul(c, p), gw, gh, r); for (let i = 0; i < n; i++) m[i] -= meanI[k][i] * meanP[i]; return m; });
  const v = (a, b) => { const m = box(mul(I[a], I[b]), gw, gh, r); for (let i = 0; i < n; i++) m[i] -= meanI[a][i] * meanI[b][i]; return m; };
  const [v00, v01, v02, v11, v12, v22] = [v(0, 0), v(0, 1), v(0, 2), v(1, 1), v(1, 2), v(2, 2)];
  const A = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
  const B = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const a11 = v00[i] + eps, a12 = v01[i], a13 = v02[i], a22 = v11[i] + eps, a23 = v12[i], a33 = v22[i] + eps;
    const i11 = a22 * a33 - a23 * a23, i12 = a13 * a23 - a12 * a33, i13 = a12 * a23 - a13 * a22;
    const i22 = a11 * a33 - a13 * a13, i23 = a12 * a13 - a11 * a23, i33 = a11 * a22 - a12 * a12;
    const det = a11 * i11 + a12 * i12 + a13 * i13;
    const c0 = cov[0][i], c1 = cov[1][i], c2 = cov[2][i];
    A[0][i] = (i11 * c0 + i12 * c1 + i13 * c2) / det;
    A[1][i] = (i12 * c0 + i22 * c1 + i23 * c2) / det;
    A[2][i] = (i13 * c0 + i23 * c1 + i33 * c2) / det;
    B[i] = meanP[i] - (A[0][i] * meanI[0][i] + A[1][i] * meanI[1][i] + A[2][i] * meanI[2][i]);
  }
  return { A: A.map((a) => box(a, gw, gh, r)), B: box(B, gw, gh, r), gw, gh };
}

// postprocess._linear at pixel i of packed RGB `rgb`: q = a . I + b, steepened around 0.5 (not clipped).
function linear(a0, a1, a2, b, rgb, i, contrast) {
  const q = a0 * (rgb[i * 3] / 255) + a1 * (rgb[i * 3 + 1] / 255) + a2 * (rgb[i * 3 + 2] / 255) + b;
  return (q - 0.5) * contrast + 0.5;
}

const clip01 = (v) => (v < 0 ? 0 : v > 1 ? 1 : v);

/**
 * postprocess.refine_edges: the colour-guided filter (He et al.) of `prob` (float32, ph x pw, any
 * size) guided by packed RGB `rgb` (w x h), coefficients on a grid radius/4 coarser, the output
 * steepened by `contrast` around 0.5. Returns float32 h x w in [0, 1].
 */
export function refineEdges(rgb, w, h, prob, pw, ph, { eps = 1e-3, contrast = 2 } = {}) {
  const { A, B, gw, gh } = fitEdges(rgb, w, h, prob, pw, ph, defaultRadius(w, h), eps, 4);
  const up = (x) => (gw === w && gh === h ? x : resizePlane(x, gw, gh, w, h, false));
  const mA = A.map(up), mB = up(B);
  const out = new Float32Array(w * h);
  for (let i = 0; i < w * h; i++) out[i] = clip01(linear(mA[0][i], mA[1][i], mA[2][i], mB[i], rgb, i, contrast));
  return out;
}

// cv2.remap's INTER_LINEAR taps (BORDER_REPLICATE) for outputs from..until of an axis resized src -> dst,
// at cv2.resize's pixel centres computed in float32 as NumPy does: x = (d + 0.5) * float32(src / dst) - 0.5.
function remapTaps(src, dst, from, until) {
  const scale = Math.fround(src / dst);
  const i0 = new Int32Array(until - from), i1 = new Int32Array(until - from), wt = new Float32Array(until - from);
  for (let d = from; d < until; d++) {
    const x = Math.fround(Math.fround(Math.fround(d + 0.5) * scale) - 0.5);
    const f = Math.floor(x);
    i0[d - from] = Math.min(src - 1, Math.max(0, f));
    i1[d - from] = Math.min(src - 1, Math.max(0, f + 1));
    wt[d - from] = x - f;
  }
  return { i0, i1, wt };
}

/**
 * postprocess._upsample_rect: rows y0..y1, columns x0..x1 of a float32 sw x sh plane resized
 * bilinearly to dw x dh, without resizing the rest (cv2.remap: a + w (b - a) across, then down).
 */
export function upsampleRect(src, sw, sh, dw, dh, y0, y1, x0, x1) {
  const xs = remapTaps(sw, dw, x0, x1), ys = remapTaps(sh, dh, y0, y1);
  const rw = x1 - x0;
  const lerp = (a, b, t) => Math.fround(a + t * Math.fround(b - a));
  const row = (sy) => {
    const o = new Float32Array(rw);
    for (let i = 0; i < rw; i++) o[i] = lerp(src[sy * sw + xs.i0[i]], src[sy * sw + xs.i1[i]], xs.wt[i]);
    return o;
  };
  const rows = new Map();
  const rowOf = (sy) => { if (!rows.has(sy)) rows.set(sy, row(sy)); return rows.get(sy); };
  const out = new Float32Array((y1 - y0) * rw);
  for (let j = 0; j < y1 - y0; j++) {
    const top = rowOf(ys.i0[j]), bottom = rowOf(ys.i1[j]), t = ys.wt[j];
    for (let i = 0; i < rw; i++) out[j * rw + i] = lerp(top[i], bottom[i], t);
  }
  return out;
}

/**
 * postprocess.refine_edges_in: refineEdges inside `rects` only ([y0, y1, x0, x1] at the image's size,
 * clipped to it), coefficients on a grid radius/`subsample` coarser; elsewhere `prob` (pw x ph)
 * resized bilinearly to the image. `weight`: a map in [0, 1] (weightWidth x weightHeight, by default
 * the probability's size), resized bilinearly inside each rect, of how much of the filtered value each
 * pixel takes, the rest from the resized `prob` (0 at the rects' outer edge: no step there). Returns
 * float32 h x w in [0, 1].
 */
export function refineEdgesIn(rgb, w, h, prob, pw, ph, rects, {
  radius = defaultRadius(w, h), eps = 1e-3, contrast = 2, subsample = 4, weight = null, weightWidth = pw, weightHeight = ph,
} = {}) {
  if (weight && weight.length !== weightWidth * weightHeight) {
    throw new Error(`a ${weightWidth}x${weightHeight} weight has ${weightWidth * weightHeight} values, got ${weight.length}`);
  }
  const { A, B, gw, gh } = fitEdges(rgb, w, h, prob, pw, ph, radius, eps, subsample);
  const up0 = pw === w && ph === h ? Float32Array.from(prob) : resizePlane(prob, pw, ph, w, h, false);
  // Neighbouring rects share an edge row or column: blend against the untouched mask, not against
  // what the previous rect wrote there.
  const out = weight ? Float32Array.from(up0) : up0;
  for (const [ry0, ry1, rx0, rx1] of rects) {
    const y0 = Math.max(0, ry0), y1 = Math.min(h, ry1), x0 = Math.max(0, rx0), x1 = Math.min(w, rx1);
    if (y1 <= y0 || x1 <= x0) continue;
    const up = (x) => upsampleRect(x, gw, gh, w, h, y0, y1, x0, x1);
    const a = A.map(up), b = up(B);
    const wt = weight && upsampleRect(weight, weightWidth, weightHeight, w, h, y0, y1, x0, x1);
    const rw = x1 - x0;
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const j = (y - y0) * rw + x - x0;
        const q = linear(a[0][j], a[1][j], a[2][j], b[j], rgb, y * w + x, contrast);
        // Weighted in the runtime's float32 order: q -= base; q *= weight; q += base (rounded as stored).
        const base = up0[y * w + x];
        out[y * w + x] = wt ? Math.fround(Math.fround(Math.fround(q) - base) * wt[j]) + base : q;
      }
    }
  }
  for (let i = 0; i < out.length; i++) out[i] = clip01(out[i]);
  return out;
}

/**
 * band.OFFSET_STEPS (portrait_mobile/runtime/band.py says why): the grid's origin is chosen per photo among
 * offsets of core / OFFSET_STEPS pixels, whichever covers the contour with the fewest tiles.
 */
export const OFFSET_STEPS = 8;

/**
 * band.contour: 1 where a pixel's 3x3 neighbourhood of `probU8` (h x w) holds both sides of 0.5 (128 as
 * uint8), else 0. The frame's border is no contour: outside it the edge pixels repeat.
 */
export function contour(probU8, w, h) {
  const fg = (y, x) => probU8[Math.min(h - 1, Math.max(0, y)) * w + Math.min(w - 1, Math.max(0, x))] >= 128;
  const edge = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const c = fg(y, x);
      let e = 0;
      for (let dy = -1; dy <= 1 && !e; dy++) for (let dx = -1; dx <= 1; dx++) if (fg(y + dy, x + dx) !== c) { e = 1; break; }
      edge[y * w + x] = e;
    }
  }
  return edge;
}

/** band.offset_step: the largest divisor of the core that is at most core / OFFSET_STEPS (at least 1). */
export function offsetStep(core) {
  let d = Math.max(1, Math.floor(core / OFFSET_STEPS));
  while (core % d) d--;
  return d;
}

/**
 * band.fewest_tiles_offset: the grid offset [oy, ox], both multiples of offsetStep, whose tiles cover the
 * contour `edge` (h x w) with the fewest tiles; ties go to the first in row-major order, [0, 0] first.
 * Counted on step x step blocks of the contour (a block is crossed when any of its pixels is): a pixel's
 * tile at such an offset is its block's, so the count is selectTiles' exactly.
 */
export function fewestTilesOffset(edge, w, h, core) {
  const s = offsetStep(core), k = core / s;
  const hb = Math.ceil(h / s), wb = Math.ceil(w / s);
  const blocks = new Uint8Array(hb * wb);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (edge[y * w + x]) blocks[Math.floor(y / s) * wb + Math.floor(x / s)] = 1;
  const crossed = [];
  for (let i = 0; i < blocks.length; i++) if (blocks[i]) crossed.push(i);
  let best = [0, 0], fewest = Infinity;
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < k; b++) {
      const gw = Math.ceil((wb + b) / k);
      const hit = new Uint8Array(Math.ceil((hb + a) / k) * gw);
      let n = 0;
      for (const i of crossed) {
        const t = Math.floor((Math.floor(i / wb) + a) / k) * gw + Math.floor((i % wb + b) / k);
        if (!hit[t]) { hit[t] = 1; n++; }
      }
      if (n < fewest) { best = [a * s, b * s]; fewest = n; }
    }
  }
  return best;
}

/**
 * band.select_tiles: core origins [y, x] of the tiles the 0.5 contour of `probU8` (h x w) crosses,
 * row-major. The grid starts at -offset ([oy, ox], each in [0, core)) and covers the frame, so a core may
 * reach past any of its edges (an origin may be negative); offset null, as the runtime runs:
 * fewestTilesOffset's, so the photo pays for as few tiles as cover its contour.
 */
export function selectTiles(probU8, w, h, core, offset = null) {
  const edge = contour(probU8, w, h);
  const [oy, ox] = offset ?? fewestTilesOffset(edge, w, h, core);
  if (!(oy >= 0 && oy < core && ox >= 0 && ox < core)) throw new Error(`offset [${oy}, ${ox}] must be within [0, ${core})`);
  const gh = Math.ceil((h + oy) / core), gw = Math.ceil((w + ox) / core);
  const hit = new Uint8Array(gh * gw);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) if (edge[y * w + x]) hit[Math.floor((y + oy) / core) * gw + Math.floor((x + ox) / core)] = 1;
  }
  const out = [];
  for (let i = 0; i < gh * gw; i++) if (hit[i]) out.push([Math.floor(i / gw) * core - oy, (i % gw) * core - ox]);
  return out;
}

/** The refiner's input of one tile: uint8 T x T x 4 (R, G, B, 4th channel), edges repeated outside. */
export function gatherTile(rgb, probU8, w, h, [y0, x0], core, margin) {
  const t = core + 2 * margin;
  const out = new Uint8Array(t * t * 4);
  for (let j = 0; j < t; j++) {
    const y = Math.min(h - 1, Math.max(0, y0 - margin + j));
    for (let i = 0; i < t; i++) {
      const x = Math.min(w - 1, Math.max(0, x0 - margin + i));
      const o = (j * t + i) * 4, p = y * w + x;
      out[o] = rgb[p * 3]; out[o + 1] = rgb[p * 3 + 1]; out[o + 2] = rgb[p * 3 + 2]; out[o + 3] = probU8[p];
    }
  }
  return out;
}

/**
 * `prob` (float32 h x w, in place) with the tile's core replaced by the refiner's output (ot x ot),
 * unclipped: featherTiles hands the refined region over to the probability around it and clips.
 */
export function blendTile(prob, w, h, out, ot, [y0, x0], core, margin) {
  const t = core + 2 * margin;
  const up = ot === t ? out : resizePlane(out, ot, ot, t, t, false);
  // A core may start above or left of the frame, or end past it: only its part inside is written.
  for (let y = Math.max(0, y0); y < Math.min(h, y0 + core); y++) {
    for (let x = Math.max(0, x0); x < Math.min(w, x0 + core); x++) prob[y * w + x] = up[(margin + y - y0) * t + margin + x - x0];
  }
}

/**
 * band.FEATHER: working-frame pixels over which a refined region hands over to the mask around it
 * (without it the refiner's tiles, and the snap inside them, end in a hard step at the region's edge).
 */
export const FEATHER = 4;

/**
 * band.feather_weight: how much of the refined value each pixel of the working frame (w x h) takes,
 * float32 h x w. 0 outside the union of the tiles' cores (origins [y, x]); inside it 1 / (feather + 1)
 * per pixel of chessboard distance from the nearest unrefined pixel, up to 1 from feather + 1 pixels in.
 * The frame's border is no edge (cv2.erode with BORDER_REPLICATE): a tile that meets it keeps its refined
 * values there. feather 0: the region itself. As the runtime computes it: the region plus `feather` 3x3
 * erosions of it, summed, times float32(1 / (feather + 1)).
 */
export function featherWeight(origins, core, w, h, feather = FEATHER) {
  if (!(feather >= 0)) throw new Error(`feather width must be >= 0, got ${feather}`);
  let inner = new Uint8Array(w * h);
  for (const [oy, ox] of origins) {
    for (let y = Math.max(0, oy); y < Math.min(h, oy + core); y++) inner.fill(1, y * w + Math.max(0, ox), y * w + Math.min(w, ox + core));
  }
  const count = Float32Array.from(inner);
  const rows = new Uint8Array(w * h);
  for (let k = 0; k < feather; k++) {
    // A 3x3 erosion, edges repeated: the minimum across (x - 1..x + 1), then down (y - 1..y + 1).
    for (let y = 0; y < h; y++) {
      const o = y * w;
      for (let x = 0; x < w; x++) rows[o + x] = inner[o + Math.max(0, x - 1)] & inner[o + x] & inner[o + Math.min(w - 1, x + 1)];
    }
    const eroded = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) {
      const up = Math.max(0, y - 1) * w, down = Math.min(h - 1, y + 1) * w;
      for (let x = 0; x < w; x++) {
        const i = y * w + x;
        eroded[i] = rows[up + x] & rows[i] & rows[down + x];
        count[i] += eroded[i];
      }
    }
    inner = eroded;
  }
  const scale = Math.fround(1 / (feather + 1));
  for (let i = 0; i < count.length; i++) count[i] *= scale;
  return count;
}

/**
 * The end of band.blend_tiles, in place on `prob` (float32 h x w, its tiles' cores written by blendTile):
 * the refined region handed over to `base` (the probability before the blend) over `feather` pixels at
 * its edge, base + weight (prob - base) in the runtime's float32 order; then every value clipped to [0, 1].
 */
export function featherTiles(prob, base, w, h, origins, core, feather = FEATHER) {
  if (feather > 0) {
    const weight = featherWeight(origins, core, w, h, feather);
    for (let i = 0; i < prob.length; i++) prob[i] = Math.fround(Math.fround(prob[i] - base[i]) * weight[i]) + base[i];
  }
  for (let i = 0; i < prob.length; i++) prob[i] = clip01(prob[i]);
  return prob;
}

function packRGB(rgba, n) {
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) { out[i * 3] = rgba[i * 4]; out[i * 3 + 1] = rgba[i * 4 + 1]; out[i * 3 + 2] = rgba[i * 4 + 2]; }
  return out;
}

/**
 * band.Snap: how the accurate level snaps the refined tiles to the photo's own edges (the guided filter
 * inside the tiles, at the photo's size divided by the least whole factor that brings its long side to
 * at most `longSide`, radius `radius` x that long side, coefficients on a grid radius/`subsample` coarser).
 */
export const ACCURATE_SNAP = Object.freeze({ radius: 0.01, longSide: 1024, subsample: 2 });

/** band.photo_rects: the tiles' cores ([y, x] at the work frame) at the photo's size, [y0, y1, x0, x1]. */
export function photoRects(origins, core, workW, workH, photoW, photoH) {
  const sy = photoH / workH, sx = photoW / workW;
  const clip = (v, n) => Math.min(n, Math.max(0, v));
  return origins.map(([y, x]) => [clip(Math.floor(y * sy), photoH), clip(Math.ceil((y + core) * sy), photoH),
    clip(Math.floor(x * sx), photoW), clip(Math.ceil((x + core) * sx), photoW)]);
}

/**
 * band.shrink_by: RGBA pixels (w x h) averaged over k x k blocks (the last rows and columns that do not
 * fill a block dropped), as packed RGB {rgb, width, height}. OpenCV's whole-factor INTER_AREA on uint8:
 * a 2x2 block's mean is (sum + 2) >> 2, a larger block's sum x float32(1 / k^2) rounded half to even.
 */
export function shrinkBy(rgba, w, h, k) {
  if (k === 1) return { rgb: packRGB(rgba, w * h), width: w, height: h };
  const sw = Math.floor(w / k), sh = Math.floor(h / k);
  const scale = Math.fround(1 / (k * k));
  const rgb = new Uint8Array(sw * sh * 3);
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < sw; x++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let by = 0; by < k; by++) for (let bx = 0; bx < k; bx++) sum += rgba[((y * k + by) * w + x * k + bx) * 4 + c];
        rgb[(y * sw + x) * 3 + c] = k === 2 ? (sum + 2) >> 2 : Math.min(255, rint(Math.fround(sum * scale)));
      }
    }
  }
  return { rgb, width: sw, height: sh };
}

/** band.grow_by: a mask (pw x ph) bilinear by exactly k, then the edge repeated to w x h. */
export function growBy(prob, pw, ph, k, w, h) {
  const uw = pw * k, uh = ph * k;
  const up = resizePlane(prob, pw, ph, uw, uh, false);
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const r = Math.min(y, uh - 1) * uw;
    for (let x = 0; x < w; x++) out[y * w + x] = up[r + Math.min(x, uw - 1)];
  }
  return out;
}

/**
 * The accurate level on one photo: its RGBA pixels (w x h), the coarse probability (pw x ph),
 * `runTile` (uint8 T x T x 4 -> float32 ot x ot, async), the refiner's contract, `snap` (band.Snap,
 * e.g. ACCURATE_SNAP; null: none) and `feather` (the hand-over's width at the refined region's edge,
 * for the refiner's tiles and the snap alike: featherWeight). Returns {prob (float32), width, height, tiles, workWidth, workHeight,
 * snapWidth, snapHeight}: the prob at the working frame, or snapped (when a tile was refined) at the
 * photo's size, the snap having run at snapWidth x snapHeight (0 x 0: no snap).
 */
export async function refineBand(rgba, w, h, coarse, pw, ph, contract, runTile, snap = null, feather = FEATHER) {
  const { core, margin, out_stride: stride, work_long_side: side } = contract.tiles;
  const [hw, ww] = workSize(h, w, side);
  const img = hw === h && ww === w ? packRGB(rgba, w * h) : resizeRGBA(rgba, w, h, ww, hw);
  const shrink = ph > hw || pw > ww;
  let pu8 = toU8(resizePlane(coarse, pw, ph, ww, hw, shrink));
  if (contract.extra_channels[0] === 'guided_probability') {
    const p = new Float32Array(pu8.length);
    for (let i = 0; i < p.length; i++) p[i] = pu8[i] / 255;
    pu8 = toU8(refineEdges(img, ww, hw, p, ww, hw));
  }
  const prob = new Float32Array(pu8.length);
  for (let i = 0; i < prob.length; i++) prob[i] = pu8[i] / 255;
  const origins = selectTiles(pu8, ww, hw, core);
  const ot = (core + 2 * margin) / stride;
  const base = Float32Array.from(prob);
  for (const o of origins) blendTile(prob, ww, hw, await runTile(gatherTile(img, pu8, ww, hw, o, core, margin)), ot, o, core, margin);
  if (origins.length) featherTiles(prob, base, ww, hw, origins, core, feather);
  const band = { prob, width: ww, height: hw, tiles: origins.length, workWidth: ww, workHeight: hw, snapWidth: 0, snapHeight: 0 };
  return snap && origins.length ? { ...band, ...snapBand(rgba, w, h, prob, ww, hw, origins, core, snap, feather) } : band;
}

/**
 * band.refine_band's snap of the refined working frame (`prob`, ww x hw; its tiles `origins`) to the
 * photo's (RGBA, w x h) own edges: the photo shrunk by k (the least whole factor bringing its long side
 * to at most snap.longSide), the guided filter inside the tiles' rects there, handed over to the working
 * frame's values over `feather` working-frame pixels at the refined region's edge (featherWeight, resized
 * bilinearly), grown back by k.
 */
export function snapBand(rgba, w, h, prob, ww, hw, origins, core, snap, feather = FEATHER) {
  const k = Math.max(1, Math.min(Math.ceil(Math.max(h, w) / snap.longSide), Math.min(h, w)));
  const frame = shrinkBy(rgba, w, h, k);
  const rects = photoRects(origins, core, ww, hw, frame.width, frame.height);
  const radius = Math.max(1, rint(snap.radius * Math.max(frame.width, frame.height)));
  const weight = feather > 0 ? featherWeight(origins, core, ww, hw, feather) : null;
  const q = refineEdgesIn(frame.rgb, frame.width, frame.height, prob, ww, hw, rects, { radius, subsample: snap.subsample, weight });
  return {
    prob: k > 1 ? growBy(q, frame.width, frame.height, k, w, h) : q,
    width: w, height: h, snapWidth: frame.width, snapHeight: frame.height,
  };
}
