// Pixels -> model input tensor and model output -> probability, driven by the contract.
// The page's pre-processing is the Python runtime's (portrait_mobile/model_io.py), done on the
// decoded RGBA pixels in JavaScript rather than by a canvas resize: OpenCV's INTER_AREA when the image
// shrinks on both axes (always, for a camera frame or a photo), bilinear with half-pixel centres
// (INTER_LINEAR) otherwise. A canvas drawImage resize differs from OpenCV by up to ~30 levels.

// cv2's computeResizeAreaTab: for each destination index, the source cells it covers and their weights.
export function areaTable(srcSize, dstSize) {
  const scale = srcSize / dstSize;
  const tab = [];
  for (let dx = 0; dx < dstSize; dx++) {
    const fsx1 = dx * scale;
    const fsx2 = fsx1 + scale;
    const cell = Math.min(scale, srcSize - fsx1);
    let sx1 = Math.ceil(fsx1);
    let sx2 = Math.floor(fsx2);
    sx2 = Math.min(sx2, srcSize - 1);
    sx1 = Math.min(sx1, sx2);
    const row = [];
    if (sx1 - fsx1 > 1e-3) row.push([sx1 - 1, (sx1 - fsx1) / cell]);
    for (let sx = sx1; sx < sx2; sx++) row.push([sx, 1 / cell]);
    if (fsx2 - sx2 > 1e-3) row.push([sx2, Math.min(Math.min(fsx2 - sx2, 1), cell) / cell]);
    tab.push(row);
  }
  return tab;
}

// cv2 INTER_LINEAR: half-pixel centres, clamped at the borders.
export function linearTable(srcSize, dstSize) {
  const scale = srcSize / dstSize;
  const tab = [];
  for (let d = 0; d < dstSize; d++) {
    let f = (d + 0.5) * scale - 0.5;
    let s = Math.floor(f);
    f -= s;
    if (s < 0) { s = 0; f = 0; }
    if (s >= srcSize - 1) { s = srcSize - 1; f = 0; }
    tab.push(f > 0 ? [[s, 1 - f], [s + 1, f]] : [[s, 1]]);
  }
  return tab;
}

// OpenCV rounds half to even (cvRound); matters at exact ties, e.g. an integer shrink factor of 2.
export function rint(x) {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 ? r - 1 : r;
}

// A table as flat typed arrays: taps of output i are idx/wt[start[i] .. start[i + 1]).
export function flat(rows) {
  const start = new Int32Array(rows.length + 1);
  rows.forEach((r, i) => { start[i + 1] = start[i] + r.length; });
  const idx = new Int32Array(start[rows.length]);
  const wt = new Float64Array(start[rows.length]);
  let k = 0;
  for (const r of rows) for (const [s, w] of r) { idx[k] = s; wt[k++] = w; }
  return { start, idx, wt };
}

/** Resize RGBA pixels (Uint8ClampedArray, sw x sh) to packed RGB uint8 dw x dh, as the runtime does. */
export function resizeRGBA(src, sw, sh, dw, dh) {
  const area = sw > dw || sh > dh; // the runtime's rule; cv2 treats a mixed case like linear
  const shrink = sw >= dw && sh >= dh;
  const xt = flat(area && shrink ? areaTable(sw, dw) : linearTable(sw, dw));
  const yt = flat(area && shrink ? areaTable(sh, dh) : linearTable(sh, dh));
  // Horizontal pass over every source row, then the vertical weights (separable, as OpenCV does).
  const rowLen = dw * 3;
  const hor = new Float64Array(sh * rowLen);
  for (let sy = 0; sy < sh; sy++) {
    const base = sy * sw * 4;
    const o = sy * rowLen;
    for (let dx = 0; dx < dw; dx++) {
      let a = 0, b = 0, c = 0;
      for (let k = xt.start[dx]; k < xt.start[dx + 1]; k++) {
        const i = base + xt.idx[k] * 4;
        const w = xt.wt[k];
        a += src[i] * w; b += src[i + 1] * w; c += src[i + 2] * w;
      }
      hor[o + dx * 3] = a; hor[o + dx * 3 + 1] = b; hor[o + dx * 3 + 2] = c;
    }
  }
  const out = new Uint8Array(dh * rowLen);
  const acc = new Float64Array(rowLen);
  for (let dy = 0; dy < dh; dy++) {
    acc.fill(0);
    for (let k = yt.start[dy]; k < yt.start[dy + 1]; k++) {
      const r = yt.idx[k] * rowLen;
      const w = yt.wt[k];
      for (let i = 0; i < rowLen; i++) acc[i] += hor[r + i] * w;
    }
    const o = dy * rowLen;
    for (let i = 0; i < rowLen; i++) out[o + i] = Math.min(255, Math.max(0, rint(acc[i])));
  }
  return out;
}

/** Packed RGB uint8 at the model's size -> the input TypedArray the contract describes. */
export function toInputTensor(rgb, c) {
  const h = c.input_height, w = c.input_width, n = h * w;
  if (rgb.length !== n * 3) throw new Error(`expected ${w}x${h} RGB pixels, got ${rgb.length / 3} pixels`);
  const bgr = c.color_order === 'BGR';
  const q = c.input_quant;
  const identity = c.mean.every((m) => m === 0) && c.std.every((s) => s === 1);
  // uint8 in with scale 1/255 and zero point 0 is the pixels themselves (the shipped int8 model).
  const passthrough = c.input_dtype === 'uint8' && identity && q && Math.abs(q.scale * 255 - 1) < 1e-6 && q.zero_point === 0;
  const out = c.input_dtype === 'uint8' ? new Uint8Array(n * 3) : new Float32Array(n * 3);
  const nchw = c.input_layout === 'NCHW';
  for (let p = 0; p < n; p++) {
    for (let ch = 0; ch < 3; ch++) {
      const v = rgb[p * 3 + (bgr ? 2 - ch : ch)];
      let x;
      if (passthrough) {
        x = v;
      } else {
        x = (v / 255 - c.mean[ch]) / c.std[ch];
        if (c.input_dtype === 'uint8') x = Math.min(255, Math.max(0, Math.round(x / q.scale + q.zero_point)));
      }
      out[nchw ? ch * n + p : p * 3 + ch] = x;
    }
  }
  return out;
}

/** Raw model output -> Float32Array person probability in [0, 1] at the output size. */
export function outputToProb(y, c) {
  const q = c.output_quant;
  const prob = new Float32Array(y.length);
  for (let i = 0; i < y.length; i++) {
    const v = q ? (y[i] - q.zero_point) * q.scale : y[i];
    prob[i] = v < 0 ? 0 : v > 1 ? 1 : v;
  }
  return prob;
}
