import CoreImage
import CoreImage.CIFilterBuiltins

enum Effect: String, CaseIterable, Identifiable {
    case none = "Camera"
    case blur = "Blur"
    case backdrop = "Backdrop"
    case mask = "Mask"

    var id: String { rawValue }
}

enum EffectError: LocalizedError {
    case emptyFrame(width: Int, height: Int)
    case renderFailed(Effect)

    var errorDescription: String? {
        switch self {
        case .emptyFrame(let width, let height): return "cannot draw an effect on a \(width)x\(height) frame"
        case .renderFailed(let effect): return "Core Image could not draw the \(effect.rawValue) effect"
        }
    }
}

/// Portrait effects in Core Image: the smoothed mask, upsampled bilinearly to the frame, blends the
/// frame over a background (CIGaussianBlur of the frame, a gradient backdrop, or a dimmed frame)
/// with CIBlendWithMask.
final class EffectRenderer {
    var blurSigma: Double = 16
    private let context = CIContext(options: [.cacheIntermediates: false])

    /// The composited frame, or nil for `.none` (the live preview shows through). Throws rather than
    /// return nil for a frame it cannot draw: nil would show the bare camera, the effect gone unexplained.
    func render(frame: CVPixelBuffer, mask: [Float], maskWidth: Int, maskHeight: Int, effect: Effect) throws -> CGImage? {
        guard effect != .none else { return nil }
        guard MaskCleanup.pixelCount(width: maskWidth, height: maskHeight) == mask.count else {
            throw MaskCleanupError.sizeMismatch(width: maskWidth, height: maskHeight, count: mask.count)
        }
        let (width, height) = (CVPixelBufferGetWidth(frame), CVPixelBufferGetHeight(frame))
        guard width > 0, height > 0 else { throw EffectError.emptyFrame(width: width, height: height) }
        let image = CIImage(cvPixelBuffer: frame)
        let extent = image.extent
        let maskImage = makeMask(mask, width: maskWidth, height: maskHeight, to: extent)

        let background: CIImage
        switch effect {
        case .blur:
            let blur = CIFilter.gaussianBlur()
            blur.inputImage = image.clampedToExtent()
            blur.radius = Float(blurSigma)
            background = (blur.outputImage ?? image).cropped(to: extent)
        case .backdrop:
            let gradient = CIFilter.linearGradient()
            gradient.point0 = CGPoint(x: extent.midX, y: extent.minY)
            gradient.point1 = CGPoint(x: extent.midX, y: extent.maxY)
            gradient.color0 = CIColor(red: 0.91, green: 0.77, blue: 0.42)
            gradient.color1 = CIColor(red: 0.15, green: 0.27, blue: 0.33)
            background = (gradient.outputImage ?? CIImage(color: .gray)).cropped(to: extent)
        case .mask:
            let dim = CIFilter.colorControls()
            dim.inputImage = image
            dim.brightness = -0.6
            background = dim.outputImage ?? image
        case .none:
            return nil
        }

        let blend = CIFilter.blendWithMask()
        blend.inputImage = image
        blend.backgroundImage = background
        blend.maskImage = maskImage
        guard let output = blend.outputImage, let rendered = context.createCGImage(output, from: extent) else {
            throw EffectError.renderFailed(effect)
        }
        return rendered
    }

    /// The probability map (`width` x `height` values, checked by `render`) as a one-channel float image
    /// stretched over `extent`.
    private func makeMask(_ mask: [Float], width: Int, height: Int, to extent: CGRect) -> CIImage {
        let data = mask.withUnsafeBufferPointer { Data(buffer: $0) }
        let small = CIImage(bitmapData: data, bytesPerRow: width * MemoryLayout<Float>.size,
                            size: CGSize(width: width, height: height), format: .Lf, colorSpace: nil)
        let scale = CGAffineTransform(scaleX: extent.width / CGFloat(width), y: extent.height / CGFloat(height))
        return small.clampedToExtent()
            .samplingLinear()
            .transformed(by: scale)
            .transformed(by: CGAffineTransform(translationX: extent.minX, y: extent.minY))
            .cropped(to: extent)
    }
}
