// Inside runner.html (one per model): load LiteRT.js and one model, keep one input, time run().
import { compile, initRuntime, run } from './engine.js';

let model = null;
let input = null;

window.runner = {
  async load(url, { build, accelerator, threads }) {
    const rt = await initRuntime(build);
    model = await compile(url, { accelerator, threads });
    const plain = (d) => ({ name: d.name, dtype: d.dtype, shape: Array.from(d.shape) });
    return { ...rt, accelerator: model.accelerator, threads: model.threads, note: model.note, inputs: model.inputs.map(plain) };
  },
  setInput(data, shape) {
    // A copy in this frame's own realm: LiteRT.js checks the typed array's class.
    input = { data: data.constructor.name === 'Uint8Array' ? Uint8Array.from(data) : Float32Array.from(data), shape };
  },
  async time() {
    return (await run(model, input.data, input.shape)).runMs;
  },
};
window.dispatchEvent(new Event('runner-ready'));
