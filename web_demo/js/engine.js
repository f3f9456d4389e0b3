// LiteRT.js: which WASM build loads, which accelerator a model actually compiled for, and one run.
// LiteRT.js loads one WASM build per page (threaded, JSPI or plain; threads and JSPI exclude each
// other), so the build is chosen before anything else and changing it reloads the page.
import { loadLiteRt, loadAndCompile, Tensor, supportsFeature } from '@litertjs/core';

const WASM_DIR = '/node_modules/@litertjs/core/wasm/';
export const BUILDS = ['threads', 'jspi', 'plain'];

let runtime = null;

/** The build to use when none is asked for: JSPI for WebGPU, threads when cross-origin isolated. */
export async function defaultBuild(accelerator) {
  if (accelerator === 'webgpu' && (await supportsFeature('jspi'))) return 'jspi';
  if (globalThis.crossOriginIsolated && (await supportsFeature('threads')) && (await supportsFeature('relaxedSimd'))) return 'threads';
  return 'plain';
}

/** Load LiteRT.js's WASM once; returns {build, wasmFile} with the file the browser really fetched. */
export async function initRuntime(build) {
  if (runtime) return runtime;
  if (!BUILDS.includes(build)) throw new Error(`unknown WASM build ${build} (${BUILDS.join(', ')})`);
  await loadLiteRt(WASM_DIR, { threads: build === 'threads', jspi: build === 'jspi' });
  const wasm = performance.getEntriesByType('resource').map((e) => e.name).filter((n) => n.endsWith('.wasm') && n.includes('litert_wasm'));
  runtime = { build, wasmFile: wasm.length ? wasm[wasm.length - 1].split('/').pop() : '?' };
  return runtime;
}

/** Whether this browser offers a WebGPU adapter at all (headless Chromium usually does not). */
export async function webgpuAvailable() {
  if (!navigator.gpu) return false;
  try {
    return (await navigator.gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}

/**
 * Compile a .tflite (URL or bytes). accelerator 'webgpu' falls back to 'wasm' when there is no adapter
 * or LiteRT.js cannot delegate the model; `accelerator` in the result is what runs.
 */
export async function compile(model, { accelerator = 'wasm', threads, environment } = {}) {
  const cpuOptions = threads ? { numThreads: threads } : undefined;
  let note = '';
  if (accelerator === 'webgpu' && runtime?.build !== 'jspi') {
    // LiteRT.js 2.5.3 reads WebGPU outputs back through JSPI; other builds fail at the first run.
    accelerator = 'wasm';
    note = 'WebGPU needs the JSPI WASM build: running on WASM';
  } else if (accelerator === 'webgpu' && !(await webgpuAvailable())) {
    accelerator = 'wasm';
    note = 'no WebGPU adapter in this browser: running on WASM';
  }
  const compiled = await loadAndCompile(model, { accelerator, cpuOptions, ...(environment ? { environment } : {}) });
  const ran = compiled.options.accelerator;
  if (accelerator === 'webgpu' && ran !== 'webgpu') note = 'LiteRT.js could not delegate the model to WebGPU: running on WASM';
  else if (ran === 'webgpu' && !compiled.isFullyAccelerated) note = 'partly on WebGPU, the rest on WASM';
  return {
    compiled,
    accelerator: ran,
    threads: ran === 'wasm' ? compiled.options.cpuOptions?.numThreads : null,
    note,
    inputs: compiled.getInputDetails(),
    outputs: compiled.getOutputDetails(),
  };
}

/** Run a compiled model on one input; returns {output TypedArray (a copy), runMs, readMs}. */
export async function run(model, data, shape) {
  const onGpu = model.accelerator === 'webgpu';
  let input = new Tensor(data, shape);
  if (onGpu) input = await input.moveTo('webgpu');
  const t0 = performance.now();
  const outputs = await model.compiled.run(input);
  const t1 = performance.now();
  input.delete();
  let out = outputs[0];
  if (onGpu) out = await out.moveTo('wasm');
  const output = out.toTypedArray().slice();
  for (const t of outputs) if (!t.deleted) t.delete();
  if (!out.deleted) out.delete();
  return { output, runMs: t1 - t0, readMs: performance.now() - t1 };
}
