import AVFoundation
import CoreGraphics
import QuartzCore
import SwiftUI

/// The readout drawn over the preview.
struct FrameStats {
    var fps: Double = 0
    var inferenceMs: Double = 0
    var effectMs: Double = 0
    var compute = ""
}

/// Camera frame -> segmentation -> temporal smoothing -> cleanup -> effect, on the camera's frame
/// queue. The cleanup is the Python runtime's (`Segmenter.finish`): the smoothed coarse mask without
/// its small detached regions and small enclosed holes (MaskCleanup.swift); the smoother keeps its own
/// uncleaned state.
/// Settings and the current segmenter are swapped in from the main actor under a lock; everything
/// else is touched only on the frame queue, hence `@unchecked Sendable`.
final class FramePipeline: @unchecked Sendable {
    struct Output {
        let image: CGImage?
        let stats: FrameStats
        let error: String?
    }

    private let lock = NSLock()
    private var segmenter: Segmenter?
    private var effect: Effect = .blur
    private var smoothing: Float = 0.5
    private let smoother = MaskSmoother()
    private let cleanup = RegionCleanup.standard
    private let renderer = EffectRenderer()
    private var lastPosition: AVCaptureDevice.Position?
    /// Set when a new segmenter is swapped in; the frame queue restarts the smoothing on it.
    private var segmenterChanged = false
    private var lastFrameTime: CFTimeInterval = 0
    private var fps: Double = 0

    func setSegmenter(_ newSegmenter: Segmenter?) {
        lock.lock()
        segmenter = newSegmenter
        segmenterChanged = true
        lock.unlock()
    }

    func update(effect: Effect, smoothing: Float) {
        lock.lock()
        self.effect = effect
        self.smoothing = smoothing
        lock.unlock()
    }

    /// `position`: the camera that took the frame; a switch restarts the smoothing (another scene).
    func process(_ pixelBuffer: CVPixelBuffer, position: AVCaptureDevice.Position) -> Output? {
        if position != lastPosition {
            smoother.reset()
            lastPosition = position
        }
        lock.lock()
        let segmenter = self.segmenter
        let effect = self.effect
        let smoothing = self.smoothing
        let newSegmenter = segmenterChanged
        segmenterChanged = false
        lock.unlock()
        // A new segmenter (another model, or compute units) restarts the smoothing: the old masks are
        // another model's, and a mask of the same size would otherwise be blended into them.
        if newSegmenter { smoother.reset() }
        guard let segmenter else { return nil }
        do {
            let result = try segmenter.segment(pixelBuffer)
            smoother.alpha = 1 - smoothing
            let smoothed = smoother.smooth(result.mask)
            let mask = try MaskCleanup.clean(smoothed, width: result.width, height: result.height, cleanup: cleanup)
            let start = CACurrentMediaTime()
            let image = try renderer.render(frame: pixelBuffer, mask: mask, maskWidth: result.width,
                                        maskHeight: result.height, effect: effect)
            let now = CACurrentMediaTime()
            if lastFrameTime > 0 {
                let instant = 1 / max(now - lastFrameTime, 1e-6)
                fps = fps == 0 ? instant : fps + 0.1 * (instant - fps)
            }
            lastFrameTime = now
            let stats = FrameStats(fps: fps, inferenceMs: result.inferenceMs, effectMs: (now - start) * 1000,
                                   compute: segmenter.computeChoice.rawValue)
            return Output(image: image, stats: stats, error: nil)
        } catch {
            return Output(image: nil, stats: FrameStats(compute: segmenter.computeChoice.rawValue),
                          error: error.localizedDescription)
        }
    }
}

@MainActor
final class PortraitViewModel: ObservableObject {
    @Published private(set) var models: [ModelAsset] = []
    @Published var selectedModel: ModelAsset? { didSet { if oldValue != selectedModel { reloadSegmenter() } } }
    @Published var compute: ComputeChoice = .all { didSet { if oldValue != compute { reloadSegmenter() } } }
    @Published var effect: Effect = .blur { didSet { pushSettings() } }
    /// 0 = follow every frame, 0.95 = very steady (the smoother's alpha is 1 - smoothing).
    @Published var smoothing: Double = 0.5 { didSet { pushSettings() } }
    @Published var frontCamera = true { didSet { camera.start(position: frontCamera ? .front : .back) } }

    @Published private(set) var cameraAuthorized: Bool?
    @Published private(set) var outputImage: CGImage?
    @Published private(set) var stats = FrameStats()
    /// Loading state or why the model could not load; models left out, with why.
    @Published private(set) var status: String?
    @Published private(set) var loadProblems: [String] = []
    /// The last frame's error; nil again as soon as a frame works.
    @Published private(set) var frameError: String?

    let camera = CameraController()
    private let pipeline = FramePipeline()
    private var loadTask: Task<Void, Never>?

    func start() async {
        let discovery = ContractLoader.discover()
        models = discovery.models
        loadProblems = discovery.problems
        if models.isEmpty {
            status = "No model in the app's Models folder. Run `portrait-export --target all --demo-assets`, then build again."
        }
        pushSettings()
        if selectedModel == nil { selectedModel = models.first }

        let authorized = await CameraController.requestAccess()
        cameraAuthorized = authorized
        guard authorized else { return }
        camera.onFrame = Self.frameHandler(pipeline: pipeline) { [weak self] output in
            Task { @MainActor in self?.show(output) }
        }
        camera.start(position: frontCamera ? .front : .back)
    }

    func stop() {
        camera.stop()
    }

    /// The per-frame work, built outside the main actor: it runs on the camera's frame queue.
    nonisolated private static func frameHandler(
        pipeline: FramePipeline,
        deliver: @escaping @Sendable (FramePipeline.Output) -> Void
    ) -> (CVPixelBuffer, AVCaptureDevice.Position) -> Void {
        return { pixelBuffer, position in
            if let output = pipeline.process(pixelBuffer, position: position) { deliver(output) }
        }
    }

    private func show(_ output: FramePipeline.Output) {
        outputImage = output.image
        stats = output.stats
        frameError = output.error
    }

    private func pushSettings() {
        pipeline.update(effect: effect, smoothing: Float(smoothing))
        if effect == .none { outputImage = nil }
    }

    private func reloadSegmenter() {
        loadTask?.cancel()
        pipeline.setSegmenter(nil)
        outputImage = nil
        frameError = nil
        guard let asset = selectedModel else { return }
        let compute = self.compute
        status = "Loading \(asset.name) on \(compute.rawValue)…"
        loadTask = Task { [weak self, pipeline] in
            do {
                let segmenter = try await Segmenter.load(asset, compute: compute)
                guard !Task.isCancelled else { return }
                pipeline.setSegmenter(segmenter)
                self?.status = nil
            } catch {
                guard !Task.isCancelled else { return }
                self?.status = "\(asset.name) on \(compute.rawValue): \(error.localizedDescription)"
            }
        }
    }
}
