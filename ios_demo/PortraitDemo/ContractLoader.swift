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
    }

    /// Output mask size; 0 in the contract means "same as the input".
    var maskWidth: Int { outputWidth > 0 ? outputWidth : inputWidth }
    var maskHeight: Int { outputHeight > 0 ? outputHeight : inputHeight }

    var summary: String { "\(modelName) v\(version) · \(precision) · \(inputWidth)x\(inputHeight)" }
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

    var errorDescription: String? {
        switch self {
        case .wrongSchema(let schema):
            return "not a portrait-mobile contract (schema '\(schema)', expected '\(ContractLoader.schema)')"
        case .unsupported(let what):
            return what
        }
    }
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
            guard let json = contractURL(for: url) else {
                problems.append("\(url.lastPathComponent): no contract next to it")
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

    static func load(_ url: URL) throws -> ModelContract {
        try parse(Data(contentsOf: url))
    }

    static func parse(_ data: Data) throws -> ModelContract {
        let contract = try JSONDecoder().decode(ModelContract.self, from: data)
        guard contract.schema == schema else { throw ContractError.wrongSchema(contract.schema) }
        guard contract.target == "coreml" else {
            throw ContractError.unsupported("\(contract.modelName): contract for target '\(contract.target)', the app runs Core ML models")
        }
        guard contract.resize == "squash" else {
            throw ContractError.unsupported("\(contract.modelName): resize '\(contract.resize)' is not supported")
        }
        guard contract.mean.count == 3, contract.std.count == 3, !contract.std.contains(0) else {
            throw ContractError.unsupported("\(contract.modelName): mean/std need 3 values")
        }
        return contract
    }
}
