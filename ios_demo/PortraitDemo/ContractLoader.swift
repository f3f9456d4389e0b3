import Foundation

/// Affine quantization of an integer tensor: real = scale * (q - zeroPoint).
struct TensorQuant: Codable, Equatable, Hashable {
    let dtype: String
    let scale: Float
    let zeroPoint: Int

    enum CodingKeys: String, CodingKey {
        case dtype = "dtype"
        case scale = "scale"
        case zeroPoint = "zero_point"
    }
}

/// The model contract `portrait-export` writes next to every artifact
/// (portrait_mobile/contract.py, `ModelContract.to_dict()`). The app reads input size, names,
/// normalization and quantization from it; none of them is compiled into the app.
struct ModelContract: Codable, Equatable, Hashable {
    let schema: String
    let modelName: String
    let version: String
    let inputHeight: Int
    let inputWidth: Int
    /// "NHWC" or "NCHW" (for a multi-array input; an image input has no layout).
    let inputLayout: String
    let inputDtype: String
    /// "RGB" or "BGR".
    let colorOrder: String
    /// Per channel, after scaling pixels to [0, 1]: x = (p / 255 - mean) / std.
    let mean: [Float]
    let std: [Float]
    /// "squash": the whole frame is resized to the input size, aspect ratio not kept.
    let resize: String
    let inputName: String
    let outputName: String
    let outputLayout: String
    let outputHeight: Int
    let outputWidth: Int
    let outputDtype: String
    let inputQuant: TensorQuant?
    let outputQuant: TensorQuant?
    let precision: String
    let target: String
    /// Absent in a segmenter's contract; "edge-refiner" for the refiner this app does not run.
    let role: String?

    enum CodingKeys: String, CodingKey {
        case schema = "schema"
        case modelName = "model_name"
        case version = "version"
        case inputHeight = "input_height"
        case inputWidth = "input_width"
        case inputLayout = "input_layout"
        case inputDtype = "input_dtype"
        case colorOrder = "color_order"
        case mean = "mean"
        case std = "std"
        case resize = "resize"
        case inputName = "input_name"
        case outputName = "output_name"
        case outputLayout = "output_layout"
        case outputHeight = "output_height"
        case outputWidth = "output_width"
        case outputDtype = "output_dtype"
        case inputQuant = "input_quant"
        case outputQuant = "output_quant"
        case precision = "precision"
        case target = "target"
        case role = "role"
    }

    /// Output mask size; 0 in the contract means "same as the input".
    var maskWidth: Int { outputWidth > 0 ? outputWidth : inputWidth }
    var maskHeight: Int { outputHeight > 0 ? outputHeight : inputHeight }

    var summary: String { "\(modelName) v\(version) · \(precision) · \(inputWidth)x\(inputHeight)" }
}

/// What a Core ML model's description says about the size of one of its tensors (Segmenter reads it
/// from the MLFeatureDescription): an image's pixels, a fixed multi-array shape, or nothing fixed.
enum TensorSize: Equatable {
    case image(width: Int, height: Int)
    case array([Int])
    case unknown
}

extension ModelContract {
    /// The multi-array input shape the contract's layout and size give.
    var inputShape: [Int] { inputLayout == "NCHW" ? [1, 3, inputHeight, inputWidth] : [1, inputHeight, inputWidth, 3] }

    /// Throws `ContractError.mismatch` unless the model's input and output sizes are the contract's, so a
    /// wrong model is refused when it loads, not on every frame (or read with the wrong stride).
    func checkTensors(input: TensorSize, output: TensorSize) throws {
        switch input {
        case .image(let width, let height) where (width, height) != (inputWidth, inputHeight):
            throw ContractError.mismatch("input image \(width)x\(height), contract \(inputWidth)x\(inputHeight)")
        case .array(let shape) where !shape.isEmpty && shape.drop(while: { $0 == 1 }) != inputShape.drop(while: { $0 == 1 }):
            throw ContractError.mismatch("input shape \(shape), contract \(inputLayout) \(inputShape)")
        default:
            break
        }
        switch output {
        case .image(let width, let height) where (width, height) != (maskWidth, maskHeight):
            throw ContractError.mismatch("output image \(width)x\(height), contract \(maskWidth)x\(maskHeight)")
        case .array(let shape) where !shape.isEmpty:  // empty: the model does not say
            // Overflow-checked: the shape comes from the model file.
            var count: Int? = 1
            for side in shape {
                guard let n = count, side >= 0 else { count = nil; break }
                let (product, overflow) = n.multipliedReportingOverflow(by: side)
                count = overflow ? nil : product
            }
            if count != maskWidth * maskHeight {
                throw ContractError.mismatch("output shape \(shape), contract \(maskWidth)x\(maskHeight)")
            }
        default:
            break
        }
    }
}

/// A model found in the app bundle, with the contract read from its JSON.
struct ModelAsset: Identifiable, Hashable {
    /// A `.mlpackage` (compiled on the device on first use) or an Xcode-compiled `.mlmodelc`.
    let modelURL: URL
    let contract: ModelContract

    var id: String { modelURL.lastPathComponent }
    var name: String { modelURL.deletingPathExtension().lastPathComponent }
}

/// What `ContractLoader.discover` found: the usable models, and why any other file was left out.
struct Discovery {
    let models: [ModelAsset]
    let problems: [String]
}

enum ContractError: LocalizedError {
    case wrongSchema(String)
    case unsupported(String)
    /// A field missing, of the wrong JSON type or out of range, named: "input_height is -5, not ...".
    case invalid(String)
    /// The model's tensors are not what its contract says.
    case mismatch(String)

    var errorDescription: String? {
        switch self {
        case .wrongSchema(let schema):
            return "not a portrait-mobile contract (schema '\(schema)', expected '\(ContractLoader.schema)')"
        case .unsupported(let what):
            return what
        case .invalid(let what):
            return "invalid model contract: \(what)"
        case .mismatch(let what):
            return "model and contract disagree: \(what)"
        }
    }
}

/// The contract's schema alone, read first: another JSON file is "not a contract", not "a key is missing".
private struct SchemaProbe: Decodable {
    let schema: String?
}

/// Finds the exported models in the bundle and reads their contracts.
///
/// `portrait-export --demo-assets` copies each `<name>.mlpackage` and its contract
/// `<name>.mlpackage.json` (the exporter's sidecar) into `PortraitDemo/Models/`
/// (export/demo_assets.py), a folder reference the app bundle carries as is. The app lists that
/// folder, so a new export needs no code or project change.
enum ContractLoader {
    /// The folder inside the bundle; export/demo_assets.py's IOS_BUNDLE_SUBDIR names the same one.
    static let modelsFolder = "Models"
    static let modelExtensions = ["mlpackage", "mlmodelc"]
    static let contractExtension = "json"
    /// The contract schema this app understands (portrait_mobile.contract.SCHEMA).
    static let schema = "portrait-mobile-contract/1"
    /// The values portrait_mobile/contract.py allows; a tampered contract is refused with the field named.
    /// Sizes per side: MAX_INPUT_SIDE, so no size from a file allocates gigabytes or overflows an Int.
    static let maxInputSide = 2048
    static let layouts = ["NHWC", "NCHW"]
    static let colorOrders = ["RGB", "BGR"]
    static let tensorDtypes = ["float32", "uint8", "int8"]
    static let quantRanges: [String: ClosedRange<Int>] = ["uint8": 0...255, "int8": -128...127]
    /// A contract is a few KB; a bigger file is refused before it is read into memory.
    static let maxContractBytes = 1 << 20

    /// Every model in the Models folder that has a contract, sorted by name. A model whose contract
    /// cannot be read is left out and named in `problems`; the others still load.
    static func discover(in bundle: Bundle = .main) -> Discovery {
        guard let folder = bundle.resourceURL?.appendingPathComponent(modelsFolder, isDirectory: true) else {
            return Discovery(models: [], problems: [])
        }
        let items = (try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)) ?? []
        var models: [ModelAsset] = []
        var problems: [String] = []
        for url in items.filter({ modelExtensions.contains($0.pathExtension) })
            .sorted(by: { $0.lastPathComponent < $1.lastPathComponent }) {
            guard isInside(url, folder) else {
                problems.append("\(url.lastPathComponent): links outside the \(modelsFolder) folder, left out")
                continue
            }
            guard let json = contractURL(for: url) else {
                problems.append("\(url.lastPathComponent): no contract next to it")
                continue
            }
            guard isInside(json, folder) else {
                problems.append("\(json.lastPathComponent): links outside the \(modelsFolder) folder, left out")
                continue
            }
            do {
                models.append(ModelAsset(modelURL: url, contract: try load(json)))
            } catch {
                problems.append("\(json.lastPathComponent): \(error.localizedDescription)")
            }
        }
        return Discovery(models: models, problems: problems)
    }

    /// The exporter's sidecar: `portrait-s-256.mlpackage` -> `portrait-s-256.mlpackage.json`, in the
    /// same folder (for a compiled `.mlmodelc`, the sidecar of the package it came from).
    static func contractURL(for modelURL: URL) -> URL? {
        let candidates = [
            modelURL.appendingPathExtension(contractExtension),
            modelURL.deletingPathExtension().appendingPathExtension("mlpackage").appendingPathExtension(contractExtension),
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0.path) }
    }

    /// Whether `url`, its links resolved, is inside `folder` (a link in the bundle may point anywhere).
    static func isInside(_ url: URL, _ folder: URL) -> Bool {
        let root = folder.resolvingSymlinksInPath().standardizedFileURL.pathComponents
        let path = url.resolvingSymlinksInPath().standardizedFileURL.pathComponents
        return path.count > root.count && Array(path.prefix(root.count)) == root
    }

    static func load(_ url: URL) throws -> ModelContract {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        let data = try handle.read(upToCount: maxContractBytes + 1) ?? Data()
        guard data.count <= maxContractBytes else {
            throw ContractError.invalid("the file is more than \(maxContractBytes) bytes")
        }
        return try parse(data)
    }

    static func parse(_ data: Data) throws -> ModelContract {
        let probe = try decode(SchemaProbe.self, from: data)
        guard probe.schema == schema else { throw ContractError.wrongSchema(shown(probe.schema ?? "none")) }
        let contract = try decode(ModelContract.self, from: data)
        let name = shown(contract.modelName)
        guard contract.target == "coreml" else {
            throw ContractError.unsupported("\(name): contract for target '\(shown(contract.target))', the app runs Core ML models")
        }
        guard contract.role == nil || contract.role == "segmenter" else {
            throw ContractError.unsupported("\(name): role '\(shown(contract.role ?? ""))', the app runs segmentation models")
        }
        guard contract.resize == "squash" else {
            throw ContractError.unsupported("\(name): resize '\(shown(contract.resize))' is not supported")
        }
        try check(contract)
        return contract
    }

    /// portrait_mobile.contract._check for the fields the app reads: sizes in range before anything is
    /// allocated from them, known layouts/colour orders/dtypes (an unknown one would be read as the
    /// default), finite mean, positive std, and a usable quantization (scale 0 would make every mask black).
    static func check(_ c: ModelContract) throws {
        for (field, value, low) in [("input_height", c.inputHeight, 1), ("input_width", c.inputWidth, 1),
                                    ("output_height", c.outputHeight, 0), ("output_width", c.outputWidth, 0)]
        where !(low...maxInputSide).contains(value) {
            throw ContractError.invalid("\(field) is \(value), not an integer in [\(low), \(maxInputSide)]")
        }
        for (field, value, allowed) in [("input_layout", c.inputLayout, layouts), ("output_layout", c.outputLayout, layouts),
                                        ("color_order", c.colorOrder, colorOrders),
                                        ("input_dtype", c.inputDtype, tensorDtypes),
                                        ("output_dtype", c.outputDtype, tensorDtypes)]
        where !allowed.contains(value) {
            throw ContractError.invalid("\(field) is '\(shown(value))', not one of \(allowed.joined(separator: ", "))")
        }
        for (field, values) in [("mean", c.mean), ("std", c.std)] {
            guard values.count == 3 else {
                throw ContractError.invalid("\(field) has \(values.count) values, not three (R, G, B)")
            }
            for (i, x) in values.enumerated() where !x.isFinite || (field == "std" && !(x > 0)) {
                throw ContractError.invalid("\(field)[\(i)] is \(x), not a \(field == "std" ? "positive" : "finite") number")
            }
        }
        for (side, quant, dtype) in [("input", c.inputQuant, c.inputDtype), ("output", c.outputQuant, c.outputDtype)] {
            if let q = quant {
                guard let range = quantRanges[q.dtype] else {
                    throw ContractError.invalid("\(side)_quant.dtype is '\(shown(q.dtype))', not one of int8, uint8")
                }
                guard q.scale.isFinite, q.scale > 0 else {
                    throw ContractError.invalid("\(side)_quant.scale is \(q.scale), not a positive number")
                }
                guard range.contains(q.zeroPoint) else {
                    throw ContractError.invalid(
                        "\(side)_quant.zero_point is \(q.zeroPoint), not an integer in [\(range.lowerBound), \(range.upperBound)]")
                }
            }
            if quantRanges[dtype] != nil && quant?.dtype != dtype {
                throw ContractError.invalid("\(side)_quant must give the scale and zero point of the \(dtype) \(side)")
            }
        }
    }

    /// `JSONDecoder` with its errors said as the field they concern ("input_height is missing"), not
    /// Foundation's "The data couldn't be read because it is missing."
    private static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as DecodingError {
            func field(_ path: [CodingKey]) -> String {
                path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
                    .trimmingCharacters(in: CharacterSet(charactersIn: "."))
            }
            func kind(_ type: Any.Type) -> String {
                switch type {
                case is Int.Type: return "an integer"
                case is Float.Type, is Double.Type: return "a number"
                case is String.Type: return "a string"
                case is [Float].Type, is [Any].Type: return "a list"
                default: return "a JSON object"
                }
            }
            switch error {
            case .keyNotFound(let key, let context):
                throw ContractError.invalid("\(field(context.codingPath + [key])) is missing")
            case .valueNotFound(let type, let context):
                throw ContractError.invalid("\(field(context.codingPath)) is null, not \(kind(type))")
            case .typeMismatch(let type, let context) where context.codingPath.isEmpty:
                throw ContractError.invalid("the file is not \(kind(type))")
            case .typeMismatch(let type, let context):
                throw ContractError.invalid("\(field(context.codingPath)) is not \(kind(type))")
            case .dataCorrupted(let context):  // not JSON, or a number that fits no Int ("96.5")
                let at = context.codingPath.isEmpty ? "" : "\(field(context.codingPath)): "
                throw ContractError.invalid(at + shown(context.debugDescription, limit: 100))
            @unknown default:
                throw ContractError.invalid(error.localizedDescription)
            }
        }
    }

    /// A value from the file as a message shows it, cut short (a tampered field may be megabytes).
    static func shown(_ text: String, limit: Int = 60) -> String {
        text.count <= limit ? text : text.prefix(limit - 3) + "..."
    }
}
