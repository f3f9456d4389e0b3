// Portrait effects on a 2D canvas: the frame, the model-resolution probability (upsampled bilinearly by
// the canvas, as the runtime's resize_prob does) used as alpha, and a background.
// The blur is mask-weighted like portrait_mobile/runtime/effects.py's blur_background: the background layer
// keeps alpha (1 - mask) through the blur, so the canvas's premultiplied blur divides by the blurred
// weight and the person's colours do not bleed into the background as a halo.

// portrait_mobile/runtime/effects.py blur_background's default: sigma as a fraction of the image diagonal.
export const DEFAULT_BLUR_STRENGTH = 0.015;
export const EFFECTS = ['blur', 'replace', 'mask', 'none'];

function layer(cache, key, w, h) {
  let c = cache[key];
  if (!c || c.width !== w || c.height !== h) {
    c = cache[key] = new OffscreenCanvas(w, h);
  }
  const ctx = c.getContext('2d');
  ctx.globalCompositeOperation = 'source-over';
  ctx.filter = 'none';
  ctx.clearRect(0, 0, w, h);
  return [c, ctx];
}

export class EffectRenderer {
  constructor(canvas) {
    this.canvas = canvas;
    this.layers = {};
  }

  /** Fill the model-size mask layer: alpha = probability (or a grey picture for the mask view). */
  maskLayer(prob, mw, mh, asAlpha) {
    const [c, ctx] = layer(this.layers, asAlpha ? 'alpha' : 'grey', mw, mh);
    const img = ctx.createImageData(mw, mh);
    for (let i = 0; i < prob.length; i++) {
      const v = Math.round(prob[i] * 255);
      img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = asAlpha ? 255 : v;
      img.data[4 * i + 3] = asAlpha ? v : 255;
    }
    ctx.putImageData(img, 0, 0);
    return c;
  }

  /** Draw `source` (w x h) with `effect` applied through `prob` (mw x mh) onto the canvas. */
  draw(source, w, h, prob, mw, mh, effect, { strength = DEFAULT_BLUR_STRENGTH, color = '#3A7BD5', background = null } = {}) {
    const out = this.canvas;
    if (out.width !== w || out.height !== h) { out.width = w; out.height = h; }
    const ctx = out.getContext('2d');
    ctx.globalCompositeOperation = 'source-over';
    ctx.filter = 'none';
    ctx.imageSmoothingEnabled = true;
    if (effect === 'none' || !prob) {
      ctx.drawImage(source, 0, 0, w, h);
      return;
    }
    if (effect === 'mask') {
      ctx.drawImage(this.maskLayer(prob, mw, mh, false), 0, 0, w, h);
      return;
    }
    const alpha = this.maskLayer(prob, mw, mh, true);
    const [person, pctx] = layer(this.layers, 'person', w, h);
    pctx.drawImage(source, 0, 0, w, h);
    pctx.globalCompositeOperation = 'destination-in';
    pctx.drawImage(alpha, 0, 0, w, h);
    if (effect === 'replace') {
      if (background) {
        // Cover and centre-crop, as effects.fit_cover does.
        const s = Math.max(w / background.width, h / background.height);
        const bw = background.width * s, bh = background.height * s;
        ctx.drawImage(background, (w - bw) / 2, (h - bh) / 2, bw, bh);
      } else {
        ctx.fillStyle = color;
        ctx.fillRect(0, 0, w, h);
      }
    } else {
      const sigma = Math.max(0.5, strength * Math.hypot(w, h));
      const [bg, bctx] = layer(this.layers, 'bg', w, h);
      bctx.drawImage(source, 0, 0, w, h);
      bctx.globalCompositeOperation = 'destination-out';
      bctx.drawImage(alpha, 0, 0, w, h);
      ctx.filter = `blur(${sigma}px)`;
      ctx.drawImage(source, 0, 0, w, h); // the plain blur, where no background is near
      ctx.drawImage(bg, 0, 0, w, h); // the mask-weighted blur over it
      ctx.filter = 'none';
    }
    ctx.drawImage(person, 0, 0, w, h);
  }
}
