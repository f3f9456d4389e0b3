// The edge refiner of quality "accurate" in the page: its contract, its compiled LiteRT.js model, and
// a photo's refined probability (band.js, the runtime's band logic): the tiles refined at the working
// frame, then snapped to the photo's own edges at its size, as the runtime's TileModel.refine does.
import { ContractError, checkRefinerContract, fetchContract, modelUrl } from './contract.js';
import { compile, run } from './engine.js';
import { ACCURATE_SNAP, refineBand } from './band.js';
import { outputToProb } from './preprocess.js';

/** uint8 T x T x 4 tile -> the tensor the contract describes (value / 255, its layout and dtype). */
export function tileTensor(tile, c) {
  const t = c.input_height, n = t * t;
  const q = c.input_quant;
  const out = c.input_dtype === 'uint8' ? new Uint8Array(n * 4) : new Float32Array(n * 4);
  const nchw = c.input_layout === 'NCHW';
  for (let p = 0; p < n; p++) {
    for (let ch = 0; ch < 4; ch++) {
      const v = tile[p * 4 + ch];
      const x = c.input_dtype === 'uint8' ? Math.min(255, Math.max(0, Math.round(v / 255 / q.scale + q.zero_point))) : v / 255;
      out[nchw ? ch * n + p : p * 4 + ch] = x;
    }
  }
  return out;
}

export class WebRefiner {
  constructor(name, contract, model) {
    this.name = name;
    this.contract = contract;
    const t = contract.input_height;
    this.shape = contract.input_layout === 'NCHW' ? [1, 4, t, t] : [1, t, t, 4];
    this.model = model;
  }

  /** Load `/models/<name>` with its refiner contract; ContractError when it is not one the page can run. */
  static async load(entry, options = {}) {
    const contract = await fetchContract(entry.contract ? modelUrl(entry.contract) : null, entry.model, checkRefinerContract);
    const model = await compile(modelUrl(entry.model), options);
    const [inp] = model.inputs;
    if (Array.from(inp.shape).join('x') !== [1, ...[contract.input_height, contract.input_width, 4]].join('x')
        && Array.from(inp.shape).join('x') !== [1, 4, contract.input_height, contract.input_width].join('x')) {
      throw new ContractError(`${entry.model}: the contract says a ${contract.input_width}x${contract.input_height}x4 tile, the model takes ${Array.from(inp.shape).join('x')}`);
    }
    return new WebRefiner(entry.model, contract, model);
  }

  /**
   * RGBA photo (w x h) + the coarse probability (pw x ph) -> {prob, width, height, tiles, runMs, ...}:
   * band.js's refineBand with ACCURATE_SNAP (prob at the photo's size when a tile was refined).
   */
  async refine(rgba, w, h, coarse, pw, ph) {
    let runMs = 0;
    const ot = this.contract.output_height;
    const res = await refineBand(rgba, w, h, coarse, pw, ph, this.contract, async (tile) => {
      const { output, runMs: ms } = await run(this.model, tileTensor(tile, this.contract), this.shape);
      runMs += ms;
      const p = outputToProb(output, this.contract);
      if (p.length !== ot * ot) throw new ContractError(`${this.name}: returned ${p.length} values, not ${ot}x${ot}`);
      return p;
    }, ACCURATE_SNAP);
    return { ...res, runMs };
  }
}
