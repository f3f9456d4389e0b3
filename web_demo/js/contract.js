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

// The Python contract's limits (portrait_mobile/contract.py MAX_INPUT_SIDE, MAX_WORK_SIDE): the page
// allocates its buffers from these numbers, so a tampered contract must not ask for gigabytes.
export const MAX_INPUT_SIDE = 2048;
export const MAX_WORK_SIDE = 8192;

// A value as an error shows it, cut short (a tampered field may be megabytes).
const show = (v) => { const s = JSON.stringify(v) ?? String(v); return s.length > 60 ? `${s.slice(0, 57)}...` : s; };

function positiveInt(c, key, max = Infinity) {
  if (!Number.isInteger(c[key]) || c[key] < 1 || c[key] > max) {
    throw new ContractError(`contract: ${key} must be an integer in [1, ${max}], got ${show(c[key])}`);
  }
}

const finite = (v) => typeof v === 'number' && Number.isFinite(v);

// mean and std: three finite numbers each, std > 0 (a string gives NaN pixels, a 0 Infinity: a silent
// wrong mask, not an error).
function checkNormalization(c, modelName) {
  for (const k of ['mean', 'std']) {
    if (!Array.isArray(c[k]) || c[k].length !== 3) throw new ContractError(`${modelName}: ${k} must be three numbers, got ${show(c[k])}`);
    c[k].forEach((v, i) => {
      if (!finite(v) || (k === 'std' && !(v > 0))) throw new ContractError(`${modelName}: ${k}[${i}] is ${show(v)}, not a finite${k === 'std' ? ' positive' : ''} number`);
    });
  }
}

// A uint8 tensor needs its scale and zero point (without them the page read null.scale, or clipped
// the raw 0..255 to a mask of ones); any given one must be well-formed.
function checkQuant(c, side, modelName) {
  const q = c[`${side}_quant`];
  const dtype = c[`${side}_dtype`] ?? 'float32';
  if (q == null) {
    if (dtype === 'uint8') throw new ContractError(`${modelName}: ${side}_quant must give the scale and zero point of its uint8 ${side}`);
    return;
  }
  if (typeof q !== 'object' || !finite(q.scale) || !(q.scale > 0) || !Number.isInteger(q.zero_point)) {
    throw new ContractError(`${modelName}: ${side}_quant is ${show(q)}, not {dtype, scale > 0, integer zero_point}`);
  }
  const [lo, hi] = q.dtype === 'int8' ? [-128, 127] : [0, 255];
  if (q.zero_point < lo || q.zero_point > hi) throw new ContractError(`${modelName}: ${side}_quant.zero_point ${q.zero_point} is outside [${lo}, ${hi}]`);
}

// output_height/width: 0 or absent means the input's; else the size the page allocates the mask at.
function outputSide(c, key, fallback) {
  const v = c[key];
  if (v === undefined || v === null || v === 0) return fallback;
  positiveInt(c, key, MAX_INPUT_SIDE);
  return v;
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

// A name from /models/index.json: one file of the models folder, never a path or a URL. Names that
// need escaping (#, ?, %) are legal file names: modelUrl encodes them.
function plainName(v, ext) {
  return typeof v === 'string' && v.length <= 255 && v.endsWith(ext) && !/[/\\\u0000-\u001f]/.test(v) && v !== '.' && v !== '..';
}

/** The URL of a file of the models folder; ContractError for a name that is not a plain file name. */
export function modelUrl(name) {
  if (!plainName(name, '')) throw new ContractError(`models/index.json: ${show(name)} is not a plain file name of the models folder`);
  return `/models/${encodeURIComponent(name)}`;
}

/** The server's /models/index.json checked: {models: [{model, contract|null, ...}], reference}; ContractError naming
 *  the first bad entry (a listing that is not the server's, or tampered with, never becomes a path elsewhere). */
export function checkListing(listing) {
  if (listing === null || typeof listing !== 'object' || !Array.isArray(listing.models)) {
    throw new ContractError(`models/index.json is not the server's listing (no "models" list): ${show(listing)}`);
  }
  listing.models.forEach((m, i) => {
    if (m === null || typeof m !== 'object' || !plainName(m.model, '.tflite')) {
      throw new ContractError(`models/index.json: entry ${i}'s model ${show(m?.model)} is not a plain .tflite file name`);
    }
    if (m.contract !== null && !plainName(m.contract, '.json')) {
      throw new ContractError(`models/index.json: ${m.model}'s contract ${show(m.contract)} is not a plain .json file name`);
    }
  });
  return listing;
}

/** What a served model is: its contract's role ("segmenter" when the contract predates roles). */
export const roleOf = (c) => c?.role ?? 'segmenter';

/** The contract as the page uses it, after checking every field it reads. */
export function checkContract(c, modelName = 'model') {
  if (c?.schema !== SCHEMA) throw new ContractError(`${modelName}: not a portrait-mobile contract (schema ${JSON.stringify(c?.schema)}, expected "${SCHEMA}")`);
  if (c.target !== 'tflite') throw new ContractError(`${modelName}: its contract is for target "${c.target}", the page runs "tflite"`);
  if (roleOf(c) !== 'segmenter') throw new ContractError(`${modelName}: an ${roleOf(c)}, not a segmentation model (quality "accurate" runs it beside one)`);
  for (const k of ['input_height', 'input_width']) positiveInt(c, k, MAX_INPUT_SIDE);
  if (!['NHWC', 'NCHW'].includes(c.input_layout)) throw new ContractError(`${modelName}: unknown input_layout ${show(c.input_layout)}`);
  if (!['RGB', 'BGR'].includes(c.color_order)) throw new ContractError(`${modelName}: unknown color_order ${show(c.color_order)}`);
  if (!DTYPES.includes(c.input_dtype)) throw new ContractError(`${modelName}: input_dtype ${show(c.input_dtype)} cannot be fed by LiteRT.js (${DTYPES.join(', ')} only)`);
  if (c.resize !== 'squash') throw new ContractError(`${modelName}: resize ${show(c.resize)} is not supported (squash only)`);
  checkNormalization(c, modelName);
  for (const side of ['input', 'output']) checkQuant(c, side, modelName);
  return {
    ...c,
    output_height: outputSide(c, 'output_height', c.input_height),
    output_width: outputSide(c, 'output_width', c.input_width),
  };
}

/** An edge refiner's contract (quality "accurate"): its tiles, its 4th channel, an I/O LiteRT.js can feed. */
export function checkRefinerContract(c, modelName = 'refiner') {
  if (c?.schema !== SCHEMA) throw new ContractError(`${modelName}: not a portrait-mobile contract`);
  if (roleOf(c) !== 'edge-refiner') throw new ContractError(`${modelName}: a ${roleOf(c)}, not an edge refiner`);
  if (c.target !== 'tflite') throw new ContractError(`${modelName}: its contract is for target "${c.target}", the page runs "tflite"`);
  const t = c.tiles !== null && typeof c.tiles === 'object' ? c.tiles : {};
  for (const k of ['core', 'out_stride']) positiveInt(t, k, MAX_INPUT_SIDE);
  positiveInt(t, 'work_long_side', MAX_WORK_SIDE);
  if (!Number.isInteger(t.margin) || t.margin < 0 || t.margin > MAX_INPUT_SIDE) throw new ContractError(`${modelName}: tiles.margin must be an integer in [0, ${MAX_INPUT_SIDE}]`);
  // The output tile is (core + 2 margin) / out_stride: a fraction would be a typed-array length error.
  if (t.core % t.out_stride || t.margin % t.out_stride) throw new ContractError(`${modelName}: tiles.core and tiles.margin must be multiples of tiles.out_stride ${t.out_stride}`);
  const side = t.core + 2 * t.margin;
  if (c.input_height !== side || c.input_width !== side) throw new ContractError(`${modelName}: its input is not its ${side}x${side} tile`);
  const out = side / t.out_stride;
  if (c.output_height !== out || c.output_width !== out) throw new ContractError(`${modelName}: its output is ${show(c.output_height)}x${show(c.output_width)}, not its ${out}x${out} output tile`);
  if (!['coarse_probability', 'guided_probability'].includes(c.extra_channels?.[0])) throw new ContractError(`${modelName}: unknown 4th channel ${show(c.extra_channels)}`);
  if (!['NHWC', 'NCHW'].includes(c.input_layout)) throw new ContractError(`${modelName}: unknown input_layout ${show(c.input_layout)}`);
  if (!DTYPES.includes(c.input_dtype)) throw new ContractError(`${modelName}: input_dtype ${show(c.input_dtype)} cannot be fed by LiteRT.js (${DTYPES.join(', ')} only): serve its fp32 export (portrait-export --refiner --target tflite --precision fp32)`);
  // Its four channels are all value / 255 (tileTensor): other normalization would be silently ignored.
  checkNormalization(c, modelName);
  if (c.mean.some((v) => v !== 0) || c.std.some((v) => v !== 1)) throw new ContractError(`${modelName}: mean and std must be 0 and 1 (an edge refiner's channels are value / 255)`);
  for (const side of ['input', 'output']) checkQuant(c, side, modelName);
  return c;
}

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
  // Its height and width, not only their product: 65536x1 for a 256x256 mask would draw it scrambled.
  const [oh, ow] = [c.output_height, c.output_width];
  const fits = [[1, oh, ow, 1], [1, 1, oh, ow], [1, oh, ow], [oh, ow]].some((s) => s.join('x') === Array.from(out.shape).join('x'));
  if (!fits) {
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
