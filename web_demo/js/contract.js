// The model contract (the JSON portrait-export writes beside every artifact) and its checks.
// Everything the page knows about a model's input and output comes from here: input size, layout,
// colour order, normalization, quantization. A missing or mismatched contract is an error the page
// shows, never a guess (a wrong guess gives a silent black mask).

// Same schema string as portrait_mobile/contract.py (tests/demos/test_web_demo.py checks they agree).
export const SCHEMA = 'portrait-mobile-contract/1';

export class ContractError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ContractError';
  }
}

const DTYPES = ['uint8', 'float32']; // what LiteRT.js can feed (it has no int8 tensors)

function positiveInt(c, key) {
  if (!Number.isInteger(c[key]) || c[key] < 1) throw new ContractError(`contract: ${key} must be a positive integer, got ${JSON.stringify(c[key])}`);
}

/** Fetch and validate the contract JSON of a model (`check`: a segmenter's checks, or a refiner's);
 *  ContractError when absent or not a contract. */
export async function fetchContract(url, modelName, check = checkContract) {
  if (!url) throw new ContractError(`${modelName} has no contract (${modelName}.json): export it with portrait-export, which writes one`);
  const res = await fetch(url);
  if (!res.ok) throw new ContractError(`${modelName}: its contract ${url} could not be loaded (HTTP ${res.status})`);
  let data;
  try {
    data = await res.json();
  } catch (e) {
    throw new ContractError(`${modelName}: its contract ${url} is not JSON (${e.message})`);
  }
  return check(data, modelName);
}

/** What a served model is: its contract's role ("segmenter" when the contract predates roles). */
export const roleOf = (c) => c?.role ?? 'segmenter';

/** The contract as the page uses it, after checking every field it reads. */
export function checkContract(c, modelName = 'model') {
  if (c?.schema !== SCHEMA) throw new ContractError(`${modelName}: not a portrait-mobile contract (schema ${JSON.stringify(c?.schema)}, expected "${SCHEMA}")`);
  if (c.target !== 'tflite') throw new ContractError(`${modelName}: its contract is for target "${c.target}", the page runs "tflite"`);
  if (roleOf(c) !== 'segmenter') throw new ContractError(`${modelName}: an ${roleOf(c)}, not a segmentation model (quality "accurate" runs it beside one)`);
  for (const k of ['input_height', 'input_width']) positiveInt(c, k);
  if (!['NHWC', 'NCHW'].includes(c.input_layout)) throw new ContractError(`${modelName}: unknown input_layout ${c.input_layout}`);
  if (!['RGB', 'BGR'].includes(c.color_order)) throw new ContractError(`${modelName}: unknown color_order ${c.color_order}`);
  if (!DTYPES.includes(c.input_dtype)) throw new ContractError(`${modelName}: input_dtype ${c.input_dtype} cannot be fed by LiteRT.js (${DTYPES.join(', ')} only)`);
  if (c.resize !== 'squash') throw new ContractError(`${modelName}: resize "${c.resize}" is not supported (squash only)`);
  for (const k of ['mean', 'std']) {
    if (!Array.isArray(c[k]) || c[k].length !== 3) throw new ContractError(`${modelName}: ${k} must be three numbers`);
  }
  return {
    ...c,
    output_height: c.output_height || c.input_height,
    output_width: c.output_width || c.input_width,
  };
}

/** An edge refiner's contract (quality "accurate"): its tiles, its 4th channel, an I/O LiteRT.js can feed. */
export function checkRefinerContract(c, modelName = 'refiner') {
  if (c?.schema !== SCHEMA) throw new ContractError(`${modelName}: not a portrait-mobile contract`);
  if (roleOf(c) !== 'edge-refiner') throw new ContractError(`${modelName}: a ${roleOf(c)}, not an edge refiner`);
  if (c.target !== 'tflite') throw new ContractError(`${modelName}: its contract is for target "${c.target}", the page runs "tflite"`);
  const t = c.tiles ?? {};
  for (const k of ['core', 'out_stride', 'work_long_side']) positiveInt(t, k);
  if (!Number.isInteger(t.margin) || t.margin < 0) throw new ContractError(`${modelName}: tiles.margin must be an integer >= 0`);
  const side = t.core + 2 * t.margin;
  if (c.input_height !== side || c.input_width !== side) throw new ContractError(`${modelName}: its input is not its ${side}x${side} tile`);
  if (!['coarse_probability', 'guided_probability'].includes(c.extra_channels?.[0])) throw new ContractError(`${modelName}: unknown 4th channel ${JSON.stringify(c.extra_channels)}`);
  if (!['NHWC', 'NCHW'].includes(c.input_layout)) throw new ContractError(`${modelName}: unknown input_layout ${c.input_layout}`);
  if (!DTYPES.includes(c.input_dtype)) throw new ContractError(`${modelName}: input_dtype ${c.input_dtype} cannot be fed by LiteRT.js (${DTYPES.join(', ')} only): serve its fp32 export (portrait-export --refiner --target tflite --precision fp32)`);
  return c;
}

const prod = (shape) => Array.from(shape).reduce((a, b) => a * b, 1);

/** The shape of the input tensor the contract describes (batch of one). */
export function inputShape(c) {
  return c.input_layout === 'NCHW' ? [1, 3, c.input_height, c.input_width] : [1, c.input_height, c.input_width, 3];
}

/** Check the contract against the compiled model's own tensors; ContractError on any disagreement. */
export function checkAgainstModel(c, inputs, outputs, modelName = 'model') {
  if (inputs.length !== 1 || outputs.length < 1) throw new ContractError(`${modelName}: expected one input and an output, the model has ${inputs.length} and ${outputs.length}`);
  const [inp] = inputs;
  const want = inputShape(c);
  if (Array.from(inp.shape).join('x') !== want.join('x')) {
    throw new ContractError(`${modelName}: the contract says input ${want.join('x')}, the model takes ${Array.from(inp.shape).join('x')}`);
  }
  if (inp.dtype !== c.input_dtype) throw new ContractError(`${modelName}: the contract says input ${c.input_dtype}, the model takes ${inp.dtype}`);
  const out = outputs[0];
  if (prod(out.shape) !== c.output_height * c.output_width) {
    throw new ContractError(`${modelName}: the contract says a ${c.output_width}x${c.output_height} mask, the model outputs ${Array.from(out.shape).join('x')}`);
  }
  if (out.dtype !== (c.output_dtype ?? 'float32')) throw new ContractError(`${modelName}: the contract says output ${c.output_dtype}, the model gives ${out.dtype}`);
}

/** A contract for MediaPipe's selfie model, which ships none: float32 RGB in [0, 1], squashed, NHWC
 *  (as ../shared/anchors/README.md and portrait_mobile/evaluation/predictors.py describe it). */
export function mediapipeContract(inputDetails) {
  const [, h, w] = Array.from(inputDetails.shape);
  return checkContract({
    schema: SCHEMA, target: 'tflite', model_name: 'mediapipe-selfie', input_height: h, input_width: w,
    input_layout: 'NHWC', color_order: 'RGB', input_dtype: 'float32', output_dtype: 'float32',
    mean: [0, 0, 0], std: [1, 1, 1], resize: 'squash', input_quant: null, output_quant: null,
  }, 'mediapipe-selfie');
}
