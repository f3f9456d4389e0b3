// The page: choose a model and where it runs, then live portrait mode on the camera or on a photo.
// URL parameters (also what the controls set): model, accelerator (wasm|webgpu), wasm (threads|jspi|
// plain), effect (blur|replace|mask|none), smoothing, quality (fast|accurate: accurate when an edge
// refiner the page can feed is served, found by its contract's role), cleanup=0 to leave the model's small
// detached regions and holes in (cleanup.js; on by default), camera=1 to start the camera at once.
// window.demoState mirrors what the readout shows, for the headless tests.
import { benchmark } from './bench.js';
import { BUILDS, defaultBuild, initRuntime } from './engine.js';
import { DEFAULT_BLUR_STRENGTH, EFFECTS, EffectRenderer } from './effects.js';
import { DEFAULT_SMOOTHING, MaskSmoother } from './smoothing.js';
import { DEFAULT_CLEANUP, NO_CLEANUP, cleanRegions, forLevel } from './cleanup.js';
import { WebSegmenter } from './segmenter.js';
import { WebRefiner } from './refiner.js';
import { checkListing, modelUrl, roleOf } from './contract.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const state = (window.demoState = { ready: false, error: null, frames: 0, source: null, running: null, lastRunMs: null, maskMean: null });

let segmenter = null;
let refiner = null; // quality "accurate": the edge refiner run on the coarse contour's tiles
let background = null;
let still = null; // the photo on show (redrawn when a control changes), null while the camera runs
const smoother = new MaskSmoother(DEFAULT_SMOOTHING); // ?smoothing= is checked in main (numberParam)
let cleanupOn = params.get('cleanup') !== '0';
const renderer = new EffectRenderer($('view'));
const work = document.createElement('canvas'); // full-size frame pixels for the pre-processing

function showError(message) {
  state.error = message;
  $('error').textContent = message;
  $('error').hidden = false;
  $('status').textContent = 'error';
}

// The largest photo (width x height) the page takes: the Python runtime's MAX_PIXELS (image_input.py);
// ?max_pixels= lowers or raises it. Past Chromium's canvas area (~268 Mpx) a photo would be segmented
// as a blank frame without a word, and each copy of it costs 4 bytes a pixel.
const MAX_PIXELS = 120_000_000;

/** A numeric URL parameter in [lo, hi] (an integer where `integer`), else `fallback` when absent; a bad
 *  one is an error naming it (NaN smoothing gave NaN masks without a word). */
function numberParam(key, fallback, lo, hi, { integer = false, below = false } = {}) {
  const raw = params.get(key);
  if (raw === null) return fallback;
  const v = raw.trim() === '' ? NaN : Number(raw);
  if (!Number.isFinite(v) || v < lo || (below ? v >= hi : v > hi) || (integer && !Number.isInteger(v))) {
    throw new Error(`URL parameter ${key}=${JSON.stringify(raw)}: expected ${integer ? 'an integer' : 'a number'} in [${lo}, ${hi}${below ? ')' : ']'}`);
  }
  return v;
}

function setParam(key, value, reload = true) {
  params.set(key, value);
  if (reload) location.search = params.toString();
  else history.replaceState(null, '', `?${params}`);
}

const fmt = (ms) => (ms == null ? '-' : `${ms.toFixed(1)} ms`);

function frameStats(ms) {
  const now = performance.now();
  state.times = (state.times ?? []).filter((t) => now - t < 1000);
  state.times.push(now);
  $('fps').textContent = state.times.length > 1 ? ((state.times.length - 1) * 1000 / (now - state.times[0])).toFixed(1) : '-';
  $('inference').textContent = fmt(ms.runMs);
  $('pre-effect').textContent = `${fmt(ms.preMs)} / ${fmt(ms.effectMs)}`;
}

/** Segment one frame or photo (w x h) and draw the effect; smoothing only for video. */
async function process(source, w, h, video) {
  const t = performance.now();
  drawToWork(source, w, h);
  const rgba = work.getContext('2d', { willReadFrequently: true }).getImageData(0, 0, w, h).data;
  const grabMs = performance.now() - t;
  const c = segmenter.contract;
  const { rgb, prob: raw, preMs: resizeMs, runMs } = await segmenter.predictRGBA(rgba, w, h);
  const preMs = grabMs + resizeMs;
  const smoothed = video ? smoother.update(raw, rgb, c.output_width, c.output_height) : raw;
  let [pw, ph] = [c.output_width, c.output_height];
  // As the runtime's Segmenter.finish: the coarse mask (smoothed, for video) cleaned of small detached
  // regions and holes first (holes left to the refiner at quality accurate), then the quality level.
  const tc = performance.now();
  const cleanup = forLevel(cleanupOn ? DEFAULT_CLEANUP : NO_CLEANUP, refiner ? 'accurate' : 'fast');
  let prob = cleanRegions(smoothed, pw, ph, cleanup);
  let changed = 0;
  for (let i = 0; i < prob.length; i++) changed += prob[i] !== smoothed[i];
  state.cleanup = { ...cleanup, changed, ms: performance.now() - tc };
  let refineMs = 0;
  if (refiner) {  // as the runtime's VideoSegmenter: the smoothed coarse mask, then refined
    const r = await refiner.refine(rgba, w, h, prob, pw, ph);
    [prob, pw, ph, refineMs] = [r.prob, r.width, r.height, r.runMs];
    state.tiles = r.tiles;
    const snapped = r.snapWidth ? `, snapped at ${r.snapWidth}x${r.snapHeight}` : '';
    $('quality').textContent = `accurate: ${refiner.name}, ${r.tiles} tiles, ${fmt(r.runMs)}${snapped}`;
  }
  const t0 = performance.now();
  renderer.draw(work, w, h, prob, pw, ph, $('effect').value, {
    strength: Number($('strength').value), color: $('color').value, background,
  });
  const effectMs = performance.now() - t0;
  state.frames += 1;
  $('status').textContent = state.source;
  state.lastRunMs = runMs;
  state.maskMean = prob.reduce((a, b) => a + b, 0) / prob.length;
  state.lastProb = raw;
  frameStats({ preMs, runMs: runMs + refineMs, effectMs });
}

function drawToWork(source, w, h) {
  work.width = w;
  work.height = h;
  work.getContext('2d', { willReadFrequently: true }).drawImage(source, 0, 0, w, h);
}

async function startCamera() {
  if (!navigator.mediaDevices?.getUserMedia) throw new Error('this browser offers no camera (getUserMedia) here: serve the page from localhost or https');
  // No size asked: the camera's own. (Chrome crops a 480x640 source to fit a requested 640x480.)
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'user' }, audio: false });
  const video = $('camera');
  still = null;
  video.srcObject = stream;
  await video.play();
  smoother.reset();
  state.source = `camera ${video.videoWidth}x${video.videoHeight}`;
  // Once per new camera frame where the browser says when one arrives, else once per screen refresh.
  const next = (fn) => (video.requestVideoFrameCallback ? video.requestVideoFrameCallback(fn) : requestAnimationFrame(fn));
  const loop = async () => {
    if (!video.srcObject) return;
    if (video.readyState >= 2 && video.videoWidth) {
      try {
        await process(video, video.videoWidth, video.videoHeight, true);
      } catch (e) {
        showError(`camera frame: ${e.message}`);
        return;
      }
    }
    next(loop);
  };
  next(loop);
}

/** The photo's width and height, known before it is decoded: an <img> reads them from the file's header
 *  when it loads and decodes its pixels only to draw them (createImageBitmap decodes the whole photo,
 *  4 bytes a pixel, before its size can be checked). */
async function storedSize(file) {
  const url = URL.createObjectURL(file);
  try {
    const img = new Image();
    const loaded = new Promise((ok, fail) => {
      img.onload = ok;
      img.onerror = () => fail(new Error('not an image the browser can read'));
    });
    img.src = url;
    await loaded;
    return [img.naturalWidth, img.naturalHeight];
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** `file` decoded as stored (no colour-profile conversion, as the Python runtime reads it), once its
 *  size is within the page's pixel limit. */
async function decodeImage(file) {
  const limit = numberParam('max_pixels', MAX_PIXELS, 1, Number.MAX_SAFE_INTEGER, { integer: true });
  const tooLarge = (w, h) => new Error(`${file.name} is ${w}x${h}, more than ${limit} pixels (?max_pixels= to change the limit)`);
  const [w, h] = await storedSize(file);
  if (w * h > limit) throw tooLarge(w, h);
  const bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  if (bitmap.width * bitmap.height > limit) { // the header and the pixels disagree
    bitmap.close();
    throw tooLarge(bitmap.width, bitmap.height);
  }
  return bitmap;
}

async function openPhoto(file) {
  // Before the model is loaded there is nothing to run (and a load error on show must stay on show).
  if (!state.ready) throw new Error(state.error ? `no model is loaded (${state.error})` : 'the model is still loading: open the photo once the page says ready');
  const bitmap = await decodeImage(file);
  const video = $('camera');
  if (video.srcObject) { video.srcObject.getTracks().forEach((t) => t.stop()); video.srcObject = null; }
  still = bitmap;
  await showStill();
}

async function showStill() {
  if (!still) return;
  state.source = `photo ${still.width}x${still.height}`;
  await process(still, still.width, still.height, false);
}

async function runBenchmark() {
  const c = segmenter.contract;
  const rgb = new Uint8Array(c.input_width * c.input_height * 3);
  // The last frame's pixels if there was one, else a fixed pattern: timing does not depend on content.
  if (state.frames) rgb.set((await segmenter.predictRGBA(work.getContext('2d').getImageData(0, 0, work.width, work.height).data, work.width, work.height)).rgb);
  else rgb.forEach((_, i) => (rgb[i] = (i * 37) % 256));
  $('bench-result').hidden = false;
  $('bench-result').textContent = 'timing…';
  const r = await benchmark(segmenter, rgb, { runs: Number(params.get('runs') ?? 50), threads: Number(params.get('threads') ?? 1), accelerator: segmenter.model.accelerator, build: state.running.build });
  $('bench-result').textContent = `${r.threads ? r.threads + ' thread, ' : ''}${r.accelerator}, ${r.ours.n} interleaved runs\n`
    + `ours      median ${r.ours.median.toFixed(2)} ms, p90 ${r.ours.p90.toFixed(2)} ms\n`
    + `MediaPipe median ${r.mediapipe.median.toFixed(2)} ms, p90 ${r.mediapipe.p90.toFixed(2)} ms\n`
    + `ratio ${r.ratio.toFixed(2)}`;
  return r;
}

/** The cleanup's checkbox, made here beside the other controls (before the buttons). */
function cleanupControl() {
  const box = Object.assign(document.createElement('input'), { type: 'checkbox', id: 'cleanup', checked: cleanupOn });
  const label = document.createElement('label');
  label.title = `as the Python runtime: drop detached regions under ${100 * DEFAULT_CLEANUP.minRegion}% of the largest, `
    + `fill enclosed holes under ${100 * DEFAULT_CLEANUP.maxHole}% of the person (not at quality accurate: its refiner judges them)`;
  label.append('clean small regions and holes', box);
  document.querySelector('.controls .buttons').before(label);
  return box;
}

function wireControls(build) {
  $('build').value = build;
  $('accelerator').value = params.get('accelerator') ?? 'wasm';
  $('effect').value = EFFECTS.includes(params.get('effect')) ? params.get('effect') : 'blur';
  $('smoothing').value = smoother.smoothing;
  $('strength').value = DEFAULT_BLUR_STRENGTH;
  $('build').onchange = (e) => setParam('wasm', e.target.value);
  $('accelerator').onchange = (e) => { params.delete('wasm'); setParam('accelerator', e.target.value); };
  $('model').onchange = (e) => setParam('model', e.target.value);
  $('quality-select').onchange = (e) => setParam('quality', e.target.value);
  const redraw = () => showStill().catch((e) => showError(`photo: ${e.message}`));
  $('effect').onchange = (e) => { setParam('effect', e.target.value, false); redraw(); };
  $('strength').onchange = redraw;
  $('color').onchange = redraw;
  $('smoothing').oninput = (e) => { smoother.smoothing = Number(e.target.value); };
  cleanupControl().onchange = (e) => { cleanupOn = e.target.checked; setParam('cleanup', cleanupOn ? '1' : '0', false); redraw(); };
  $('start-camera').onclick = () => startCamera().catch((e) => showError(`camera: ${e.message}`));
  $('photo').onchange = (e) => e.target.files[0] && openPhoto(e.target.files[0]).catch((err) => showError(`photo: ${err.message}`));
  // A file that does not decode is an error on the page (it was an unhandled rejection: nothing shown).
  $('background').onchange = (e) => (e.target.files[0] ? decodeImage(e.target.files[0]) : Promise.resolve(null))
    .then((bitmap) => { background = bitmap; return redraw(); }, (err) => showError(`background ${e.target.files[0].name}: ${err.message}`));
  $('bench').onclick = () => runBenchmark().catch((e) => showError(`benchmark: ${e.message}`));
}

async function main() {
  smoother.smoothing = numberParam('smoothing', DEFAULT_SMOOTHING, 0, 1, { below: true });
  for (const [key, allowed] of [['accelerator', ['wasm', 'webgpu']], ['quality', ['fast', 'accurate']], ['wasm', BUILDS], ['effect', EFFECTS]]) {
    // An unknown value was passed on as it is ("Invalid accelerator: ") or dropped without a word.
    if (params.has(key) && !allowed.includes(params.get(key))) throw new Error(`URL parameter ${key}=${JSON.stringify(params.get(key))}: expected one of ${allowed.join(', ')}`);
  }
  for (const key of ['runs', 'threads']) numberParam(key, 1, 1, 1e6, { integer: true });
  const build = BUILDS.includes(params.get('wasm')) ? params.get('wasm') : await defaultBuild(params.get('accelerator'));
  wireControls(build);
  const rt = await initRuntime(build);
  const res = await fetch('/models/index.json');
  let listing;
  try {
    listing = await res.json();
  } catch (e) {
    throw new Error(`models/index.json could not be read (HTTP ${res.status}: ${e.message})`);
  }
  checkListing(listing); // every name a plain file of the models folder
  // Segmentation models and edge refiners are told apart by their contracts' role.
  const roles = await Promise.all(listing.models.map(async (m) => {
    if (!m.contract) return 'segmenter';
    try { return roleOf(await (await fetch(modelUrl(m.contract))).json()); } catch { return 'segmenter'; }
  }));
  const models = listing.models.filter((_, i) => roles[i] === 'segmenter');
  const refiners = listing.models.filter((_, i) => roles[i] === 'edge-refiner');
  if (!models.length) throw new Error('no .tflite model is served: run portrait-export --target tflite, then serve again');
  for (const m of models) $('model').add(new Option(m.model, m.model));
  const entry = models.find((m) => m.model === params.get('model')) ?? models[0];
  $('model').value = entry.model;
  $('bench').disabled = !listing.reference;
  segmenter = await WebSegmenter.load(entry, { accelerator: $('accelerator').value });
  // Quality: accurate when asked for and a refiner the page can feed (float32 or uint8 I/O) is served.
  let qualityNote = refiners.length ? '' : ' (no edge refiner served: portrait-export --refiner --target tflite --precision fp32)';
  if (params.get('quality') === 'accurate' && refiners.length) {
    for (const r of refiners) {
      try {
        refiner = await WebRefiner.load(r, { accelerator: 'wasm' });
        break;
      } catch (e) {
        qualityNote = ` (${e.message})`;
      }
    }
  }
  $('quality-select').value = refiner ? 'accurate' : 'fast';
  $('quality-select').disabled = !refiners.length;
  state.quality = refiner ? { level: 'accurate', refiner: refiner.name } : { level: 'fast', note: qualityNote.trim() };
  $('quality').textContent = refiner ? `accurate: ${refiner.name}` : `fast${qualityNote}`;
  const m = segmenter.model;
  state.running = { build: rt.build, wasmFile: rt.wasmFile, accelerator: m.accelerator, threads: m.threads, note: m.note };
  $('running').textContent = `${m.accelerator === 'webgpu' ? 'WebGPU' : `WASM (${rt.wasmFile}${m.threads ? `, ${m.threads} threads` : ''})`}${m.note ? ` — ${m.note}` : ''}`;
  const c = segmenter.contract;
  $('summary').textContent = `${c.model_name} ${c.precision} ${c.input_width}x${c.input_height} ${c.input_dtype} in, v${c.version}`;
  $('status').textContent = 'ready: start the camera or open a photo';
  state.ready = true;
  window.portraitDemo = { openPhoto, runBenchmark, segmenter, refiner };
  if (params.get('camera') === '1') await startCamera();
}

main().catch((e) => showError(e.message));
