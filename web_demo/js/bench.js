// In-page latency: our model and MediaPipe's timed interleaved in the same page, on the same WASM
// build, thread count and input picture, so both see the same browser, JIT and machine load.
// Each model runs in its own runner.html frame (see there why), driven from here in turns.
import { mediapipeContract, modelUrl } from './contract.js';
import { toInputTensor } from './preprocess.js';

export const REFERENCE_URL = '/reference/selfie_segmentation.tflite';

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo);
};

const stats = (xs) => ({ median: quantile(xs, 0.5), p90: quantile(xs, 0.9), min: Math.min(...xs), n: xs.length });

async function openRunner() {
  const frame = document.createElement('iframe');
  frame.hidden = true;
  frame.src = '/runner.html';
  const ready = new Promise((resolve) => frame.addEventListener('load', () => {
    if (frame.contentWindow.runner) resolve(frame);
    else frame.contentWindow.addEventListener('runner-ready', () => resolve(frame));
  }));
  document.body.append(frame);
  return ready;
}

/**
 * Time `run()` of ours and MediaPipe's, alternating which goes first each round.
 * ours: a WebSegmenter (its contract says the input); rgb: packed RGB pixels at its input size, also
 * fed to MediaPipe (both take 256x256). Returns medians, p90, the ratio and what ran.
 */
export async function benchmark(ours, rgb, { runs = 50, warmup = 5, threads = 1, accelerator = 'wasm', build } = {}) {
  const frames = [await openRunner(), await openRunner()];
  try {
    const [mine, ref] = frames.map((f) => f.contentWindow.runner);
    const mineInfo = await mine.load(modelUrl(ours.name), { build, accelerator, threads });
    const refInfo = await ref.load(REFERENCE_URL, { build, accelerator, threads });
    const refContract = mediapipeContract(refInfo.inputs[0]);
    if (refContract.input_width !== ours.contract.input_width || refContract.input_height !== ours.contract.input_height) {
      throw new Error('MediaPipe and our model take different input sizes; the benchmark feeds both the same pixels');
    }
    mine.setInput(toInputTensor(rgb, ours.contract), ours.shape);
    ref.setInput(toInputTensor(rgb, refContract), refInfo.inputs[0].shape);
    const runners = { ours: mine, mediapipe: ref };
    const times = { ours: [], mediapipe: [] };
    for (let i = 0; i < warmup + runs; i++) {
      for (const k of i % 2 ? ['mediapipe', 'ours'] : ['ours', 'mediapipe']) {
        const ms = await runners[k].time();
        if (i >= warmup) times[k].push(ms);
      }
    }
    const result = {
      ours: { model: ours.name, ...stats(times.ours) },
      mediapipe: { model: 'selfie_segmentation.tflite', ...stats(times.mediapipe) },
      build: mineInfo.build, wasmFile: mineInfo.wasmFile, accelerator: mineInfo.accelerator, threads: mineInfo.threads,
    };
    result.ratio = result.ours.median / result.mediapipe.median;
    return result;
  } finally {
    frames.forEach((f) => f.remove());
  }
}
