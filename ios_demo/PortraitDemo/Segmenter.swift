import Accelerate
import CoreImage
import CoreML
import QuartzCore
import Vision

/// Which processors Core ML may use; the settings panel's choice.
enum ComputeChoice: String, CaseIterable, Identifiable {
    case cpu = "CPU"
    case gpu = "GPU"
    case neuralEngine = "Neural Engine"
    case all = "All"

    var id: String { rawValue }

    var computeUnits: MLComputeUnits {
        switch self {
        case .cpu: return .cpuOnly
        case .gpu: return .cpuAndGPU
        case .neuralEngine: return .cpuAndNeuralEngine
        case .all: return .all
        }
    }
}

/// A person probability per mask pixel, row-major, top row first.
struct SegmentationResult {
    let mask: [Float]
    let width: Int
    let height: Int
    let inferenceMs: Double
}

enum SegmenterError: LocalizedError {
    case missingFeature(String)
    case mismatch(String)
    case unsupported(String)
    case noOutput

    var errorDescription: String? {
        switch self {
        case .missingFeature(let what): return "the model has no \(what)"
        case .mismatch(let what): return "model and contract disagree: \(what)"
        case .unsupported(let what): return what
        case .noOutput: return "the model returned no mask"
        }
    }
}

/// Runs the exported Core ML model on camera frames, as its contract describes it.
///
/// An image input (the exporter's ImageType, scale folded in) goes through Vision, which resizes
/// the frame to the contract's input size with `.scaleFill` (the contract's "squash"). A
/// multi-array input is filled here from the contract's layout, colour order, mean and std.
/// Use one instance from one queue at a time: it is made by the loading task and handed, once and
/// under FramePipeline's lock, to the camera's frame queue, which alone uses it from then on. That
/// handover is why it is `@unchecked Sendable` (MLModel and VNCoreMLRequest are not `Sendable`).
final class Segmenter: @unchecked Sendable {
    let contract: ModelContract
    let computeChoice: ComputeChoice
    private let model: MLModel
    private let request: VNCoreMLRequest?
    private let ciContext = CIContext(options: [.cacheIntermediates: false])

    static func load(_ asset: ModelAsset, compute: ComputeChoice) async throws -> Segmenter {
        let compiled = try await ModelCompiler.compiledURL(for: asset.modelURL)
        let configuration = MLModelConfiguration()
        configuration.computeUnits = compute.computeUnits
        let model = try await MLModel.load(contentsOf: compiled, configuration: configuration)
        return try Segmenter(model: model, contract: asset.contract, compute: compute)
    }

    init(model: MLModel, contract: ModelContract, compute: ComputeChoice) throws {
        self.model = model
        self.contract = contract
        self.computeChoice = compute
        let description = model.modelDescription
        guard let input = description.inputDescriptionsByName[contract.inputName] else {
            throw SegmenterError.missingFeature("input named '\(ContractLoader.shown(contract.inputName))'")
        }
        guard let output = description.outputDescriptionsByName[contract.outputName] else {
            throw SegmenterError.missingFeature("output named '\(ContractLoader.shown(contract.outputName))'")
        }
        // The sizes the model file fixes, held to the contract's at load, not on every frame.
        try contract.checkTensors(input: Self.size(of: input), output: Self.size(of: output))
        switch input.type {
        case .image:
            let visionModel = try VNCoreMLModel(for: model)
            visionModel.inputImageFeatureName = contract.inputName
            let request = VNCoreMLRequest(model: visionModel)
            // The contract's resize "squash": the whole frame, aspect ratio not kept.
            request.imageCropAndScaleOption = .scaleFill
            self.request = request
        case .multiArray:
            guard contract.inputDtype == "float32" else {
                throw SegmenterError.unsupported("multi-array input of type \(contract.inputDtype)")
            }
            self.request = nil
        default:
            throw SegmenterError.unsupported("input '\(ContractLoader.shown(contract.inputName))' is neither an image nor a multi-array")
        }
    }

    /// What the model's description fixes of a feature's size; a flexible or unstated shape fixes nothing.
    private static func size(of feature: MLFeatureDescription) -> TensorSize {
        if let image = feature.imageConstraint {
            return .image(width: image.pixelsWide, height: image.pixelsHigh)
        }
        if let array = feature.multiArrayConstraint, array.shapeConstraint.type == .unspecified {
            return .array(array.shape.map { $0.intValue })
        }
        return .unknown
    }

    /// `pixelBuffer`: an upright BGRA camera frame, any size.
    func segment(_ pixelBuffer: CVPixelBuffer) throws -> SegmentationResult {
        guard CVPixelBufferGetWidth(pixelBuffer) > 0, CVPixelBufferGetHeight(pixelBuffer) > 0 else {
            throw SegmenterError.unsupported("an empty camera frame")  // the squash would divide by 0
        }
        let start = CACurrentMediaTime()
        let value: MLFeatureValue
        if let request {
            let handler = VNImageRequestHandler(cvPixelBuffer: pixelBuffer, orientation: .up, options: [:])
            try handler.perform([request])
            value = try outputValue(from: request.results ?? [])
        } else {
            let provider = try MLDictionaryFeatureProvider(
                dictionary: [contract.inputName: MLFeatureValue(multiArray: try inputArray(from: pixelBuffer))])
            guard let output = try model.prediction(from: provider).featureValue(for: contract.outputName) else {
                throw SegmenterError.noOutput
            }
            value = output
        }
        let inferenceMs = (CACurrentMediaTime() - start) * 1000
        let mask = try probabilities(from: value)
        return SegmentationResult(mask: mask, width: contract.maskWidth, height: contract.maskHeight, inferenceMs: inferenceMs)
    }

    private func outputValue(from observations: [VNObservation]) throws -> MLFeatureValue {
        for observation in observations {
            if let feature = observation as? VNCoreMLFeatureValueObservation, feature.featureName == contract.outputName {
                return feature.featureValue
            }
            if let image = observation as? VNPixelBufferObservation, image.featureName == contract.outputName {
                return MLFeatureValue(pixelBuffer: image.pixelBuffer)
            }
        }
        throw SegmenterError.noOutput
    }

    /// The contract's normalization for a multi-array input: squash, colour order, mean/std, layout.
    private func inputArray(from pixelBuffer: CVPixelBuffer) throws -> MLMultiArray {
        let width = contract.inputWidth
        let height = contract.inputHeight
        let image = CIImage(cvPixelBuffer: pixelBuffer)
        let scaled = image.transformed(by: CGAffineTransform(
            scaleX: CGFloat(width) / image.extent.width, y: CGFloat(height) / image.extent.height))
        var bgra = [UInt8](repeating: 0, count: width * height * 4)
        ciContext.render(scaled, toBitmap: &bgra, rowBytes: width * 4,
                         bounds: CGRect(x: 0, y: 0, width: width, height: height),
                         format: .BGRA8, colorSpace: CGColorSpaceCreateDeviceRGB())
        let nchw = contract.inputLayout == "NCHW"
        let shape = nchw ? [1, 3, height, width] : [1, height, width, 3]
        let plane = width * height
        var values = [Float](repeating: 0, count: plane * 3)
        // Byte offset in a BGRA pixel of tensor channel c.
        let byteOffset = contract.colorOrder == "BGR" ? [0, 1, 2] : [2, 1, 0]
        let mean = contract.mean
        let std = contract.std
        for i in 0..<plane {
            for c in 0..<3 {
                let x = (Float(bgra[i * 4 + byteOffset[c]]) / 255 - mean[c]) / std[c]
                values[nchw ? c * plane + i : i * 3 + c] = x
            }
        }
        // MLMultiArray(shape:dataType:) does not promise a contiguous layout; a shaped array from
        // row-major scalars does.
        return MLMultiArray(MLShapedArray<Float>(scalars: values, shape: shape))
    }

    /// Output -> probabilities in [0, 1]: dequantized with output_quant when the contract has one.
    private func probabilities(from value: MLFeatureValue) throws -> [Float] {
        let count = contract.maskWidth * contract.maskHeight
        var probs: [Float]
        if let array = value.multiArrayValue {
            probs = MLShapedArray<Float>(converting: array).scalars
        } else if let buffer = value.imageBufferValue {
            // With output_quant the bytes are the quantized values, dequantized below (dividing them by
            // 255 first would make the mask near 0: black); without, a byte is probability x 255.
            probs = try grayscale(buffer, scale: contract.outputQuant == nil ? 1 / 255 : 1)
        } else {
            throw SegmenterError.noOutput
        }
        guard probs.count == count else {
            throw SegmenterError.mismatch(
                "output has \(probs.count) values, contract \(contract.maskWidth)x\(contract.maskHeight)")
        }
        // NaN is below every threshold: the frame would show as all background, with no word why.
        guard !probs.contains(where: { $0.isNaN }) else { throw SegmenterError.unsupported("the model's output holds NaN") }
        if let quant = contract.outputQuant {
            probs = vDSP.multiply(quant.scale, vDSP.add(-Float(quant.zeroPoint), probs))
        }
        return vDSP.clip(probs, to: 0...1)
    }

    /// A one-channel 8-bit output image, each byte times `scale`.
    private func grayscale(_ buffer: CVPixelBuffer, scale: Float) throws -> [Float] {
        guard CVPixelBufferGetPixelFormatType(buffer) == kCVPixelFormatType_OneComponent8 else {
            throw SegmenterError.unsupported("output image format \(CVPixelBufferGetPixelFormatType(buffer))")
        }
        CVPixelBufferLockBaseAddress(buffer, .readOnly)
        defer { CVPixelBufferUnlockBaseAddress(buffer, .readOnly) }
        let width = CVPixelBufferGetWidth(buffer)
        let height = CVPixelBufferGetHeight(buffer)
        let rowBytes = CVPixelBufferGetBytesPerRow(buffer)
        guard let base = CVPixelBufferGetBaseAddress(buffer)?.assumingMemoryBound(to: UInt8.self) else {
            throw SegmenterError.noOutput
        }
        var probs = [Float](repeating: 0, count: width * height)
        for y in 0..<height {
            for x in 0..<width {
                probs[y * width + x] = Float(base[y * rowBytes + x]) * scale
            }
        }
        return probs
    }
}

/// Compiles a bundled `.mlpackage` on the device once (iOS 16's `MLModel.compileModel(at:)`) and
/// keeps the result in Application Support, so later launches load it directly.
enum ModelCompiler {
    static func compiledURL(for modelURL: URL) async throws -> URL {
        if modelURL.pathExtension == "mlmodelc" { return modelURL }
        let fileManager = FileManager.default
        let cache = try fileManager
            .url(for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
            .appendingPathComponent("CompiledModels", isDirectory: true)
        try fileManager.createDirectory(at: cache, withIntermediateDirectories: true)
        let build = Bundle.main.object(forInfoDictionaryKey: "CFBundleVersion") as? String ?? "0"
        let modified = (try? modelURL.resourceValues(forKeys: [.contentModificationDateKey]))?
            .contentModificationDate?.timeIntervalSince1970 ?? 0
        let name = modelURL.deletingPathExtension().lastPathComponent
        let destination = cache.appendingPathComponent("\(name)-\(build)-\(Int(modified)).mlmodelc", isDirectory: true)
        if fileManager.fileExists(atPath: destination.path) { return destination }
        let compiled = try await MLModel.compileModel(at: modelURL)
        try? fileManager.removeItem(at: destination)
        try fileManager.moveItem(at: compiled, to: destination)
        return destination
    }
}
