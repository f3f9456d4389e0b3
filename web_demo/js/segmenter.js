// One portrait model in the page: its contract, its compiled LiteRT.js model, and
// pixels -> person probability at the model's resolution (what the runtime's predict_lowres returns).
import { checkAgainstModel, fetchContract, inputShape, modelUrl } from './contract.js';
import { compile, run } from './engine.js';
import { outputToProb, resizeRGBA, toInputTensor } from './preprocess.js';

export class WebSegmenter {
  constructor(name, contract, model) {
    this.name = name;
    this.contract = contract;
    this.model = model;
    this.shape = inputShape(contract);
  }

  /** Load `/models/<name>` with its contract; ContractError when the contract is missing or wrong. */
  static async load(entry, options = {}) {
    const contract = await fetchContract(entry.contract ? modelUrl(entry.contract) : null, entry.model);
    const model = await compile(modelUrl(entry.model), options);
    checkAgainstModel(contract, model.inputs, model.outputs, entry.model);
    return new WebSegmenter(entry.model, contract, model);
  }

  get size() {
    return { width: this.contract.input_width, height: this.contract.input_height };
  }

  /** Packed RGB at the model's size -> {prob, runMs}. */
  async predictRGB(rgb) {
    const { output, runMs } = await run(this.model, toInputTensor(rgb, this.contract), this.shape);
    return { prob: outputToProb(output, this.contract), runMs };
  }

  /** RGBA pixels of any size -> {rgb (model-size input pixels), prob, preMs, runMs}. */
  async predictRGBA(rgba, width, height) {
    const t0 = performance.now();
    const rgb = resizeRGBA(rgba, width, height, this.contract.input_width, this.contract.input_height);
    const preMs = performance.now() - t0;
    const { prob, runMs } = await this.predictRGB(rgb);
    return { rgb, prob, preMs, runMs };
  }
}
