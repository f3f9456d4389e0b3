// Headless Chromium on the demo page, for the tests and the benchmark: starts serve.mjs on a free
// port of 127.0.0.1 and the system Chromium through playwright-core (no browser download).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

// Quiet, offline, reproducible: no background traffic, a fresh profile each time.
const FLAGS = ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];
const NO_GPU = ['--disable-gpu'];
// WebGPU on SwiftShader (Vulkan on the CPU): headless Chromium has no adapter otherwise. Software, so
// it checks that the WebGPU path computes the right masks, not how fast a GPU would be.
export const SOFTWARE_WEBGPU = ['--enable-unsafe-webgpu', '--enable-unsafe-swiftshader', '--use-webgpu-adapter=swiftshader',
  '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-angle=swiftshader'];

export function fakeCameraFlags(y4m) {
  return ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', `--use-file-for-fake-video-capture=${y4m}`];
}

/** Start serve.mjs; resolves {url, close} once it prints the address it listens on. */
export function startServer(serverArgs = []) {
  const proc = spawn(process.execPath, [join(HERE, '..', 'serve.mjs'), '--port', '0', ...serverArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let err = '';
    proc.stderr.on('data', (d) => { err += d; });
    proc.on('exit', (code) => reject(new Error(`serve.mjs exited (${code}): ${err}`)));
    proc.stdout.on('data', (d) => {
      const m = /serving (http:\/\/127\.0\.0\.1:\d+\/)/.exec(String(d));
      if (m) resolve({ url: m[1], close: () => proc.kill() });
    });
  });
}

/** Run fn(page, {url, browser}) with the server and a fresh headless Chromium; cleans up both. */
export async function withPage({ serverArgs = [], extraFlags = [], consoleLog = [], webgpu = false } = {}, fn) {
  const server = await startServer(serverArgs);
  const profile = mkdtempSync(join(tmpdir(), 'portrait-web-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: [...FLAGS, ...(webgpu ? SOFTWARE_WEBGPU : NO_GPU), ...extraFlags], viewport: { width: 1100, height: 640 },
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => consoleLog.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => consoleLog.push(`pageerror: ${e.message}`));
    return await fn(page, { url: server.url, version: context.browser()?.version() });
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
    server.close();
  }
}

/** Open the page and wait until it is ready or shows an error; returns window.demoState. */
export async function openDemo(page, url, query = '', timeout = 60000) {
  await page.goto(`${url}${query ? `?${query}` : ''}`);
  await page.waitForFunction(() => window.demoState && (window.demoState.ready || window.demoState.error), null, { timeout });
  return page.evaluate(() => window.demoState);
}
