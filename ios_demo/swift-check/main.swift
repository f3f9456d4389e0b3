// Runs on Linux with the iOS app's own ContractLoader.swift and MaskSmoother.swift (tests/support/demo_swift.py).
// Arguments: a Core ML contract the exporter wrote, a TFLite one, a bundle folder whose Models/ holds
// one good and one malformed contract. Prints what the app read; exits 1 if a check fails. Also checks,
// without the arguments, that bad input (tampered contracts, models whose tensors disagree with theirs,
// links out of the Models folder) is refused with the problem named, never a trap.
import Foundation

/// Counts failed checks (a class, so the top-level code is the same in Swift 5 and 6 modes).
final class Checks {
    private(set) var failures = 0

    func check(_ ok: Bool, _ what: String, line: Int = #line) {
        if !ok {
            failures += 1
            print("FAIL main.swift:\(line): \(what)")
        }
    }
}

let checks = Checks()

// MaskSmoother: the first frame is kept, then blended; a new size or a reset starts afresh.
let smoother = MaskSmoother(alpha: 0.25)
checks.check(smoother.smooth([0, 1]) == [0, 1], "the first frame is kept")
checks.check(smoother.smooth([1, 0]) == [0.25, 0.75], "the next one is blended with alpha")
checks.check(smoother.smooth([1, 1, 1]) == [1, 1, 1], "a new mask size starts afresh")
smoother.reset()
checks.check(smoother.smooth([0, 0, 0]) == [0, 0, 0], "reset starts afresh")
checks.check(MaskSmoother(alpha: 0).alpha == MaskSmoother.minimumAlpha, "alpha is kept above its minimum")
// A NaN alpha (min/max pass it through) is no smoothing, not every later mask NaN.
checks.check(MaskSmoother(alpha: .nan).alpha == 1, "a NaN alpha is 1")
let nanSmoother = MaskSmoother()
nanSmoother.alpha = .nan
_ = nanSmoother.smooth([1, 0])
checks.check(nanSmoother.smooth([0, 1]) == [0, 1], "a NaN alpha set later is 1 too")

// Bad contracts: each refused with the field and the problem named (ContractLoader.check follows
// portrait_mobile/contract.py's checks), never a size that would trap or allocate gigabytes, a layout,
// colour order or dtype read as the default, or a quantization that makes every mask black.
/// A good Core ML contract with `edits` (a nil value removes the key) as JSON.
func contractJSON(_ edits: [String: Any?]) -> Data {
    var doc: [String: Any] = [
        "schema": ContractLoader.schema, "model_name": "tiny", "version": "1", "input_height": 64, "input_width": 96,
        "input_layout": "NCHW", "input_dtype": "float32", "color_order": "RGB", "mean": [0.5, 0.5, 0.5],
        "std": [0.25, 0.25, 0.25], "resize": "squash", "input_name": "image", "output_name": "mask",
        "output_layout": "NCHW", "output_height": 64, "output_width": 96, "output_dtype": "float32",
        "input_quant": NSNull(), "output_quant": NSNull(), "precision": "fp16", "target": "coreml",
    ]
    for (key, value) in edits {
        doc[key] = value
    }
    return (try? JSONSerialization.data(withJSONObject: doc)) ?? Data()
}

func refusal(_ data: Data) -> String? {
    do {
        _ = try ContractLoader.parse(data)
        return nil
    } catch {
        return error.localizedDescription
    }
}

let uint8Quant: [String: Any] = ["dtype": "uint8", "scale": 1.0 / 255, "zero_point": 0]
let badContracts: [(edits: [String: Any?], says: String)] = [
    (["input_height": nil], "input_height is missing"),
    (["input_width": "96"], "input_width is not an integer"),
    (["input_name": NSNull()], "input_name is null"),
    (["mean": "0.5"], "mean is not a list"),
    (["std": [1, "a", 1]], "std[1] is not a number"),
    (["input_height": -5], "input_height is -5, not an integer in [1, 2048]"),
    (["input_width": 0], "input_width is 0, not an integer in [1, 2048]"),
    (["input_height": 1 << 40, "input_width": 1 << 40], "input_height is 1099511627776, not an integer in [1, 2048]"),
    (["input_height": Int.max, "input_width": Int.max], "input_height is \(Int.max), not"),
    (["output_width": 100_000], "output_width is 100000, not an integer in [0, 2048]"),
    (["output_height": -1], "output_height is -1, not an integer in [0, 2048]"),
    (["input_layout": "NHCW"], "input_layout is 'NHCW', not one of NHWC, NCHW"),
    (["output_layout": "HW"], "output_layout is 'HW', not one of NHWC, NCHW"),
    (["color_order": "GBR"], "color_order is 'GBR', not one of RGB, BGR"),
    (["input_dtype": "float16"], "input_dtype is 'float16', not one of float32, uint8, int8"),
    (["output_dtype": "int4"], "output_dtype is 'int4', not one of float32, uint8, int8"),
    (["output_dtype": "uint8"], "output_quant must give the scale and zero point of the uint8 output"),
    (["output_dtype": "int8", "output_quant": uint8Quant], "output_quant must give the scale and zero point of the int8"),
    (["output_dtype": "uint8", "output_quant": uint8Quant.merging(["scale": 0]) { $1 }],
     "output_quant.scale is 0.0, not a positive number"),
    (["output_dtype": "uint8", "output_quant": uint8Quant.merging(["scale": -0.5]) { $1 }],
     "output_quant.scale is -0.5, not a positive number"),
    (["input_dtype": "uint8", "input_quant": uint8Quant.merging(["zero_point": 300]) { $1 }],
     "input_quant.zero_point is 300, not an integer in [0, 255]"),
    (["output_dtype": "int8", "output_quant": ["dtype": "int8", "scale": 0.1, "zero_point": -129]],
     "output_quant.zero_point is -129, not an integer in [-128, 127]"),
    (["output_quant": uint8Quant.merging(["dtype": "int16"]) { $1 }], "output_quant.dtype is 'int16', not one of"),
    (["output_quant": ["dtype": "uint8", "scale": 0.1]], "output_quant.zero_point is missing"),
    (["std": [0, 1, 1]], "std[0] is 0.0, not a positive number"),
    (["std": [1, -1, 1]], "std[1] is -1.0, not a positive number"),
    (["mean": [0.5, 0.5]], "mean has 2 values, not three (R, G, B)"),
    (["role": "edge-refiner"], "role 'edge-refiner', the app runs segmentation models"),
    (["resize": "contour-tiles"], "resize 'contour-tiles' is not supported"),
    (["schema": nil], "not a portrait-mobile contract (schema 'none'"),
    (["schema": 1], "schema is not a string"),
    (["target": "tflite", "model_name": String(repeating: "x", count: 10_000)], "target 'tflite'"),
]
for (edits, says) in badContracts {
    let why = refusal(contractJSON(edits))
    checks.check(why?.contains(says) == true && why!.count < 200,
                 "\(edits.keys.sorted()): '\(why?.prefix(200) ?? "accepted")', not '\(says)'")
}
for (text, says) in [("[1, 2]", "the file is not a JSON object"), ("{ not json", "not valid JSON"), ("", "not valid JSON")] {
    let why = refusal(Data(text.utf8))
    checks.check(why?.contains(says) == true, "'\(text)': '\(why ?? "accepted")', not '\(says)'")
}
checks.check(refusal(contractJSON([:])) == nil, "the good contract: \(refusal(contractJSON([:])) ?? "")")
checks.check(refusal(contractJSON(["output_height": 0, "output_width": 0, "input_layout": "NHWC", "color_order": "BGR",
                                   "input_dtype": "uint8", "input_quant": uint8Quant])) == nil,
             "a mask at the input size, NHWC BGR uint8 input")

// A contract file is read only up to its limit; a missing one is an error, not a crash.
let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("swift-check-\(ProcessInfo.processInfo.processIdentifier)")
try? FileManager.default.removeItem(at: scratch)
try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
var padded = contractJSON([:])
padded.append(Data(repeating: 0x20, count: ContractLoader.maxContractBytes))
try padded.write(to: scratch.appendingPathComponent("big.json"))
do {
    _ = try ContractLoader.load(scratch.appendingPathComponent("big.json"))
    checks.check(false, "a contract over \(ContractLoader.maxContractBytes) bytes is refused")
} catch {
    checks.check(error.localizedDescription.contains("more than \(ContractLoader.maxContractBytes) bytes"), "\(error)")
}
checks.check((try? ContractLoader.load(scratch.appendingPathComponent("none.json"))) == nil, "a missing contract throws")

// The model's tensors held to the contract at load (Segmenter passes what its model description fixes).
if let tiny = try? ContractLoader.parse(contractJSON([:])) {
    func mismatch(_ input: TensorSize, _ output: TensorSize) -> String? {
        do {
            try tiny.checkTensors(input: input, output: output)
            return nil
        } catch {
            return error.localizedDescription
        }
    }
    checks.check(mismatch(.image(width: 96, height: 64), .array([1, 1, 64, 96])) == nil, "the exporter's model")
    checks.check(mismatch(.array([1, 3, 64, 96]), .image(width: 96, height: 64)) == nil, "an NCHW array input")
    checks.check(mismatch(.array([3, 64, 96]), .array([64, 96])) == nil, "shapes without the batch")
    checks.check(mismatch(.unknown, .unknown) == nil && mismatch(.array([]), .array([])) == nil, "nothing fixed")
    for (input, output, says) in [
        (TensorSize.image(width: 64, height: 96), TensorSize.unknown, "input image 64x96, contract 96x64"),
        (.array([1, 64, 96, 3]), .unknown, "input shape [1, 64, 96, 3], contract NCHW [1, 3, 64, 96]"),
        (.unknown, .array([1, 1, 64, 95]), "output shape [1, 1, 64, 95], contract 96x64"),
        (.unknown, .image(width: 64, height: 96), "output image 64x96, contract 96x64"),
        (.unknown, .array([Int.max, 2, 3]), "output shape"),  // overflows: refused, no trap
        (.unknown, .array([-1, 6144]), "output shape"),
    ] {
        let why = mismatch(input, output)
        checks.check(why?.hasPrefix("model and contract disagree: \(says)") == true, "\(why ?? "accepted"), not \(says)")
    }
} else {
    checks.check(false, "the good contract parses")
}

// Discovery takes no model or contract that a link puts outside the Models folder.
let linkBundle = scratch.appendingPathComponent("bundle", isDirectory: true)
let linkModels = linkBundle.appendingPathComponent(ContractLoader.modelsFolder, isDirectory: true)
let outside = scratch.appendingPathComponent("outside", isDirectory: true)
let fm = FileManager.default
try fm.createDirectory(at: outside.appendingPathComponent("real.mlpackage"), withIntermediateDirectories: true)
try contractJSON([:]).write(to: outside.appendingPathComponent("real.mlpackage.json"))
for name in ["ok", "contract-out"] {
    try fm.createDirectory(at: linkModels.appendingPathComponent("\(name).mlpackage"), withIntermediateDirectories: true)
}
try contractJSON([:]).write(to: linkModels.appendingPathComponent("ok.mlpackage.json"))
try fm.createSymbolicLink(at: linkModels.appendingPathComponent("contract-out.mlpackage.json"),
                          withDestinationURL: outside.appendingPathComponent("real.mlpackage.json"))
try fm.createSymbolicLink(atPath: linkModels.appendingPathComponent("model-out.mlpackage").path,
                          withDestinationPath: "../../outside/real.mlpackage")
try contractJSON([:]).write(to: linkModels.appendingPathComponent("model-out.mlpackage.json"))
if let bundle = Bundle(path: linkBundle.path) {
    let found = ContractLoader.discover(in: bundle)
    checks.check(found.models.map(\.name) == ["ok"], "only the model inside: \(found.models.map(\.name))")
    checks.check(found.problems.sorted() == ["contract-out.mlpackage.json: links outside the Models folder, left out",
                                             "model-out.mlpackage: links outside the Models folder, left out"],
                 "\(found.problems)")
} else {
    checks.check(false, "no bundle at \(linkBundle.path)")
}

// ContractLoader on the exporter's real sidecars.
let arguments = CommandLine.arguments
let contract = try ContractLoader.load(URL(fileURLWithPath: arguments[1]))
print("model_name=\(contract.modelName)")
print("input=\(contract.inputWidth)x\(contract.inputHeight) mask=\(contract.maskWidth)x\(contract.maskHeight)")
print("input_name=\(contract.inputName) output_name=\(contract.outputName) layout=\(contract.inputLayout)")
print("output_quant=\(contract.outputQuant.map { "\($0.dtype)" } ?? "nil")")
do {
    _ = try ContractLoader.load(URL(fileURLWithPath: arguments[2]))
    checks.check(false, "a TFLite contract is refused")
} catch {
    checks.check(error.localizedDescription.contains("'tflite'"), "the refusal names the target: \(error)")
}

// Discovery: a malformed contract hides only its own model.
if let bundle = Bundle(path: arguments[3]) {
    let found = ContractLoader.discover(in: bundle)
    print("discovered=\(found.models.map(\.name)) problems=\(found.problems.count)")
    checks.check(found.models.map(\.name) == ["good"], "the good model is found: \(found.models.map(\.name))")
    checks.check(found.problems.count == 1 && found.problems[0].hasPrefix("bad.mlpackage.json"), "\(found.problems)")
} else {
    checks.check(false, "no bundle at \(arguments[3])")
}

try? FileManager.default.removeItem(at: scratch)
print(checks.failures == 0 ? "swift checks: all passed" : "swift checks: \(checks.failures) failed")
exit(checks.failures == 0 ? 0 : 1)
