import AVFoundation
import SwiftUI
import UIKit

/// An AVCaptureSession with a video data output of upright BGRA frames (rotated to portrait,
/// mirrored for the front camera, like the preview layer shows them).
final class CameraController: NSObject, AVCaptureVideoDataOutputSampleBufferDelegate {
    let session = AVCaptureSession()
    /// Called on the frame queue for every frame the session delivers while the previous one is done,
    /// with the position of the camera that took it.
    var onFrame: ((CVPixelBuffer, AVCaptureDevice.Position) -> Void)?

    private let sessionQueue = DispatchQueue(label: "PortraitDemo.camera.session")
    private let frameQueue = DispatchQueue(label: "PortraitDemo.camera.frames", qos: .userInitiated)
    private let videoOutput = AVCaptureVideoDataOutput()

    static func requestAccess() async -> Bool {
        switch AVCaptureDevice.authorizationStatus(for: .video) {
        case .authorized:
            return true
        case .notDetermined:
            return await AVCaptureDevice.requestAccess(for: .video)
        default:
            return false
        }
    }

    func start(position: AVCaptureDevice.Position) {
        sessionQueue.async { [self] in
            configure(position: position)
            if !session.isRunning { session.startRunning() }
        }
    }

    func stop() {
        sessionQueue.async { [self] in
            if session.isRunning { session.stopRunning() }
        }
    }

    private func configure(position: AVCaptureDevice.Position) {
        session.beginConfiguration()
        defer { session.commitConfiguration() }
        // 640x480 is plenty for a 256x256 model and keeps the Core Image effects cheap.
        if session.canSetSessionPreset(.vga640x480) { session.sessionPreset = .vga640x480 }

        session.inputs.forEach { session.removeInput($0) }
        guard let device = AVCaptureDevice.default(.builtInWideAngleCamera, for: .video, position: position),
              let input = try? AVCaptureDeviceInput(device: device),
              session.canAddInput(input) else { return }
        session.addInput(input)

        if !session.outputs.contains(videoOutput) {
            videoOutput.videoSettings = [kCVPixelBufferPixelFormatTypeKey as String: kCVPixelFormatType_32BGRA]
            videoOutput.alwaysDiscardsLateVideoFrames = true
            videoOutput.setSampleBufferDelegate(self, queue: frameQueue)
            guard session.canAddOutput(videoOutput) else { return }
            session.addOutput(videoOutput)
        }
        if let connection = videoOutput.connection(with: .video) {
            if #available(iOS 17.0, *) {
                if connection.isVideoRotationAngleSupported(90) { connection.videoRotationAngle = 90 }
            } else if connection.isVideoOrientationSupported {
                connection.videoOrientation = .portrait
            }
            if connection.isVideoMirroringSupported {
                connection.automaticallyAdjustsVideoMirroring = false
                connection.isVideoMirrored = position == .front
            }
        }
    }

    func captureOutput(_ output: AVCaptureOutput, didOutput sampleBuffer: CMSampleBuffer,
                       from connection: AVCaptureConnection) {
        guard let pixelBuffer = CMSampleBufferGetImageBuffer(sampleBuffer) else { return }
        // The camera actually delivering, not the one the settings last asked for.
        let device = (connection.inputPorts.first?.input as? AVCaptureDeviceInput)?.device
        onFrame?(pixelBuffer, device?.position ?? .unspecified)
    }
}

/// The live camera preview (AVCaptureVideoPreviewLayer, aspect fill) for SwiftUI.
struct CameraPreview: UIViewRepresentable {
    let session: AVCaptureSession

    final class PreviewView: UIView {
        override class var layerClass: AnyClass { AVCaptureVideoPreviewLayer.self }
        var previewLayer: AVCaptureVideoPreviewLayer { layer as! AVCaptureVideoPreviewLayer }
    }

    func makeUIView(context: Context) -> PreviewView {
        let view = PreviewView()
        view.previewLayer.session = session
        view.previewLayer.videoGravity = .resizeAspectFill
        return view
    }

    func updateUIView(_ uiView: PreviewView, context: Context) {}
}
