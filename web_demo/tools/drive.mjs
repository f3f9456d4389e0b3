#!/usr/bin/env node
// Drives the demo page in headless Chromium for tests/test_web_demo.py; prints one JSON object.
//   node tools/drive.mjs parity --tensors FILE.u8 --size 256 IMAGE...   masks for Python's exact inputs
//                                                                          and through the page's own decoding
//   node tools/drive.mjs state [--query Q]                                 the page's state (ready / error)
//   node tools/drive.mjs camera --y4m CLIP --frames N                      live frames from a fake camera
//   node tools/drive.mjs screenshot --photo IMAGE --png OUT [--query Q]    the page with a photo
//   node tools/drive.mjs photo --photo IMAGE --effects blur,replace,mask   the canvas's RGBA pixels per effect
//                              [--background IMAGE]                         (chosen as the backdrop first)
//   node tools/drive.mjs state [--query Q] [--photo IMAGE]                 also: the page after choosing a photo
// Common: --models DIR (serve.mjs --models), --reference FILE, --webgpu 1 (SwiftShader WebGPU adapter),
// --listing FILE (served as /models/index.json instead of the server's, as a tampered server would).
import { readFileSync } from 'node:fs';
import { fakeCameraFlags, openDemo, withPage } from './browser.mjs';

function parseArgs(argv) {
  const [command, ...rest] = argv;
  const opts = { positional: [] };
  for (let i = 0; i < rest.length; i++) {
    if (rest[i].startsWith('--')) opts[rest[i].slice(2)] = rest[++i];
    else opts.positional.push(rest[i]);
  }
  return { command, opts };
}

const b64 = (path) => readFileSync(path).toString('base64');

async function parity(page, url, opts) {
  const state = await openDemo(page, url, opts.query);
  if (!state.ready) return { state };
  const size = Number(opts.size);
  const tensors = readFileSync(opts.tensors);
  const per = size * size * 3;
  const results = [];
  for (const [i, image] of opts.positional.entries()) {
    const rgb = tensors.subarray(i * per, (i + 1) * per).toString('base64');
    results.push(await page.evaluate(async ({ rgbB64, imgB64 }) => {
      const bytes = (s) => Uint8Array.from(atob(s), (ch) => ch.charCodeAt(0));
      const toB64 = (arr) => { let s = ''; const u = new Uint8Array(arr.buffer); for (let k = 0; k < u.length; k++) s += String.fromCharCode(u[k]); return btoa(s); };
      const seg = window.portraitDemo.segmenter;
      // 1. the exact tensor Python fed its interpreter: the model alone, browser vs Python
      const exact = await seg.predictRGB(bytes(rgbB64));
      // 2. the page's own path: decode the file, then its JavaScript pre-processing
      const bitmap = await createImageBitmap(new Blob([bytes(imgB64)]), { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
      const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
      const ctx = canvas.getContext('2d', { willReadFrequently: true });
      ctx.drawImage(bitmap, 0, 0);
      const page = await seg.predictRGBA(ctx.getImageData(0, 0, bitmap.width, bitmap.height).data, bitmap.width, bitmap.height);
      return { exact: toB64(exact.prob), page: toB64(page.prob), pageInput: toB64(page.rgb), runMs: exact.runMs, width: bitmap.width, height: bitmap.height };
    }, { rgbB64: rgb, imgB64: b64(image) }));
  }
  return { state, results };
}

async function camera(page, url, opts) {
  const state = await openDemo(page, url, `camera=1&${opts.query ?? ''}`);
  if (!state.ready) return { state };
  const frames = Number(opts.frames ?? 10);
  await page.waitForFunction((n) => window.demoState.frames >= n || window.demoState.error, frames, { timeout: 120000 });
  const last = await page.evaluate(() => {
    const { lastProb, times, ...s } = window.demoState;
    const u = new Uint8Array(lastProb.buffer);
    let bin = '';
    for (let k = 0; k < u.length; k++) bin += String.fromCharCode(u[k]);
    return { ...s, lastProbB64: btoa(bin) };
  });
  const readout = {};
  for (const id of ['fps', 'inference', 'pre-effect']) readout[id] = await page.textContent(`#${id}`);
  return { state: last, fps: readout.fps, readout };
}

async function screenshot(page, url, opts) {
  const state = await openDemo(page, url, opts.query);
  if (state.ready) {
    await page.setInputFiles('#photo', opts.photo);
    await page.waitForFunction(() => window.demoState.frames >= 1 || window.demoState.error, null, { timeout: 60000 });
  }
  await page.screenshot({ path: opts.png });
  return { state: await page.evaluate(() => { const { lastProb, times, ...s } = window.demoState; return s; }) };
}

async function photo(page, url, opts) {
  const state = await openDemo(page, url, opts.query);
  if (!state.ready) return { state };
  const drawn = {};
  await page.setInputFiles('#photo', opts.photo);
  await page.waitForFunction(() => window.demoState.frames >= 1 || window.demoState.error, null, { timeout: 60000 });
  if (opts.background) {
    const before = await page.evaluate(() => window.demoState.frames);
    await page.setInputFiles('#background', opts.background); // the page redraws the photo on it
    await page.waitForFunction((n) => window.demoState.frames > n || window.demoState.error, before, { timeout: 20000 });
  }
  for (const effect of (opts.effects ?? 'blur').split(',')) {
    const before = await page.evaluate(() => window.demoState.frames);
    await page.selectOption('#effect', effect); // the page redraws the photo with it
    await page.waitForFunction((n) => window.demoState.frames > n || window.demoState.error, before, { timeout: 60000 });
    drawn[effect] = await page.evaluate(() => {
      const view = document.getElementById('view');
      const px = new Uint8Array(view.getContext('2d').getImageData(0, 0, view.width, view.height).data.buffer);
      let bin = '';
      for (let k = 0; k < px.length; k++) bin += String.fromCharCode(px[k]);
      return { width: view.width, height: view.height, rgbaB64: btoa(bin) };
    });
  }
  return { state: await page.evaluate(() => { const { lastProb, times, ...s } = window.demoState; return s; }), drawn };
}

/** The page's state once open, and after choosing `--photo` when given (whether the page was ready or not). */
async function state(page, url, opts) {
  const first = await openDemo(page, url, opts.query);
  if (!opts.photo) return { state: first };
  await page.setInputFiles('#photo', opts.photo);
  await page.waitForFunction((e) => window.demoState.frames >= 1 || (window.demoState.error && window.demoState.error !== e), first.error, { timeout: 60000 });
  return { state: await page.evaluate(() => { const { lastProb, times, ...s } = window.demoState; return s; }) };
}

async function main() {
  const { command, opts } = parseArgs(process.argv.slice(2));
  const serverArgs = [];
  for (const k of ['models', 'reference']) if (opts[k]) serverArgs.push(`--${k}`, opts[k]);
  const extraFlags = command === 'camera' ? fakeCameraFlags(opts.y4m) : [];
  const consoleLog = [];
  const commands = { parity, camera, screenshot, photo, state };
  if (!commands[command]) throw new Error(`unknown command ${command} (${Object.keys(commands).join(', ')})`);
  const result = await withPage({ serverArgs, extraFlags, consoleLog, webgpu: opts.webgpu === '1' }, async (page, { url, version }) => {
    if (opts.listing) await page.route('**/models/index.json', (route) => route.fulfill({ path: opts.listing, contentType: 'application/json' }));
    return {
      chromium: version,
      ...(await commands[command](page, url, opts)),
      errorText: (await page.isVisible('#error')) ? await page.textContent('#error') : null,
    };
  });
  result.console = consoleLog.filter((l) => !l.includes('INFO:'));
  process.stdout.write(JSON.stringify(result));
}

main().catch((e) => { console.error(e.stack ?? e); process.exit(1); });
