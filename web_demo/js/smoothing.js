// Temporal smoothing of the mask, as the Python runtime's VideoSegmenter does it
// (portrait_mobile/runtime/video.py): an EMA at the model's resolution,
//   m_t = a * m_(t-1) + (1 - a) * p_t,
// with a lowered where the frame changed (Gaussian-blurred grey difference), so a moving person is
// followed without lag while a still one stops flickering.

// The runtime's defaults: runtime/options.py DEFAULT_SMOOTHING (its per-frame weight at 30 fps; the Python
// runtime smooths on the video's clock) and video.MOTION_SCALE (checked by the tests).
export const DEFAULT_SMOOTHING = 0.6;
export const MOTION_SCALE = 0.12;
const MOTION_SIGMA = 1.5;

function gaussianKernel(sigma) {
  const n = (Math.round(sigma * 8 + 1) | 1); // OpenCV's size for float images
  const k = new Float32Array(n);
  const r = (n - 1) / 2;
  let s = 0;
  for (let i = 0; i < n; i++) { k[i] = Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)); s += k[i]; }
  return k.map((v) => v / s);
}
const KERNEL = gaussianKernel(MOTION_SIGMA);

// OpenCV's default border (BORDER_REFLECT_101: ...cb|abcd|cb...).
const reflect101 = (i, n) => (n === 1 ? 0 : i < 0 ? -i : i >= n ? 2 * n - 2 - i : i);

function blur(src, w, h) {
  const r = (KERNEL.length - 1) / 2;
  const tmp = new Float32Array(w * h);
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let k = -r; k <= r; k++) s += KERNEL[k + r] * src[y * w + reflect101(x + k, w)];
      tmp[y * w + x] = s;
    }
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let k = -r; k <= r; k++) s += KERNEL[k + r] * tmp[reflect101(y + k, h) * w + x];
      out[y * w + x] = s;
    }
  }
  return out;
}

/** Grey level in [0, 1] of packed RGB (OpenCV's RGB2GRAY weights, rounded to uint8 as it does). */
export function grey(rgb) {
  const n = rgb.length / 3;
  const g = new Float32Array(n);
  for (let i = 0; i < n; i++) g[i] = Math.round(0.299 * rgb[3 * i] + 0.587 * rgb[3 * i + 1] + 0.114 * rgb[3 * i + 2]) / 255;
  return g;
}

export class MaskSmoother {
  constructor(smoothing = DEFAULT_SMOOTHING, motionAware = true) {
    this.smoothing = smoothing;
    this.motionAware = motionAware;
    this.reset();
  }

  reset() {
    this.prev = null;
    this.prevGrey = null;
  }

  /** prob: Float32Array w*h at the model's size; rgb: the frame's packed RGB at the same size. */
  update(prob, rgb, w, h) {
    if (this.smoothing <= 0) { this.reset(); return prob; }
    const g = this.motionAware ? grey(rgb) : null;
    let out = prob;
    if (this.prev && this.prev.length === prob.length) {
      out = new Float32Array(prob.length);
      const motion = g && this.prevGrey ? blur(g.map((v, i) => Math.abs(v - this.prevGrey[i])), w, h) : null;
      for (let i = 0; i < prob.length; i++) {
        const a = motion ? this.smoothing * Math.min(1, Math.max(0, 1 - motion[i] / MOTION_SCALE)) : this.smoothing;
        out[i] = a * this.prev[i] + (1 - a) * prob[i];
      }
    }
    this.prev = out;
    this.prevGrey = g;
    return out;
  }
}
