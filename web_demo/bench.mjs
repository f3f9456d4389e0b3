#!/usr/bin/env node
// Browser latency, headless: our model vs MediaPipe's, interleaved in the page (js/bench.js), for each
// WASM build asked for. Prints one JSON object (versions, machine, per build: medians, p90, ratio).
//   node bench.mjs [--builds threads,jspi,plain] [--threads 1] [--runs 50] [--repeat 1] [--models DIR] [--reference FILE]
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { openDemo, withPage } from './tools/browser.mjs';

const opts = { builds: 'threads,jspi', threads: '1', runs: '50', repeat: '1', models: null, reference: null };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const k = argv[i].replace(/^--/, '');
  if (!(k in opts)) { console.error(`unknown option ${argv[i]}`); process.exit(2); }
  opts[k] = argv[i + 1];
}

const litert = JSON.parse(readFileSync(new URL('./node_modules/@litertjs/core/package.json', import.meta.url))).version;
const out = { litertjs: litert, cpu: cpus()[0]?.model, cores: cpus().length, threads: Number(opts.threads), results: [] };
const serverArgs = [...(opts.models ? ['--models', opts.models] : []), ...(opts.reference ? ['--reference', opts.reference] : [])];
await withPage({ serverArgs }, async (page, { url, version }) => {
  out.chromium = version;
  for (let r = 0; r < Number(opts.repeat); r++) {
    for (const build of opts.builds.split(',')) {
      const state = await openDemo(page, url, `wasm=${build}&runs=${opts.runs}&threads=${opts.threads}`);
      if (!state.ready) throw new Error(`page not ready: ${state.error}`);
      out.results.push(await page.evaluate(() => window.portraitDemo.runBenchmark()));
    }
  }
});
process.stdout.write(JSON.stringify(out, null, 1) + '\n');
