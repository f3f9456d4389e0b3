import SwiftUI
import UIKit

struct ContentView: View {
    @StateObject private var model = PortraitViewModel()
    @State private var showSettings = true

    var body: some View {
        ZStack {
            Color.black.ignoresSafeArea()
            switch model.cameraAuthorized {
            case .some(true):
                CameraPreview(session: model.camera.session)
                    .ignoresSafeArea()
                if let image = model.outputImage {
                    // The composited effect over the live preview, cropped like the preview layer.
                    GeometryReader { geometry in
                        Image(decorative: image, scale: 1)
                            .resizable()
                            .scaledToFill()
                            .frame(width: geometry.size.width, height: geometry.size.height)
                            .clipped()
                    }
                    .ignoresSafeArea()
                }
            case .some(false):
                CameraDeniedView()
            case .none:
                ProgressView()
            }
            VStack(alignment: .leading, spacing: 8) {
                StatsOverlay(stats: model.stats, contract: model.selectedModel?.contract,
                             messages: [model.status, model.frameError].compactMap { $0 } + model.loadProblems)
                Spacer()
                HStack {
                    Spacer()
                    Button(showSettings ? "Hide settings" : "Settings") { showSettings.toggle() }
                        .buttonStyle(.bordered)
                }
                if showSettings {
                    SettingsPanel(model: model)
                }
            }
            .padding()
        }
        .task { await model.start() }
        .onDisappear { model.stop() }
    }
}

private struct StatsOverlay: View {
    let stats: FrameStats
    let contract: ModelContract?
    /// Loading state, the last frame's error, contracts that could not be read.
    let messages: [String]

    var body: some View {
        VStack(alignment: .leading, spacing: 2) {
            Text(String(format: "%5.1f FPS", stats.fps)).font(.system(.headline, design: .monospaced))
            Text(String(format: "inference %6.1f ms", stats.inferenceMs))
            Text(String(format: "effect %.1f ms", stats.effectMs))
            Text("Core ML · \(stats.compute)")
            if let contract {
                Text(contract.summary)
            }
            ForEach(messages, id: \.self) { message in
                Text(message).foregroundStyle(.orange)
            }
        }
        .font(.system(.caption, design: .monospaced))
        .foregroundStyle(.white)
        .padding(8)
        .background(.black.opacity(0.55), in: RoundedRectangle(cornerRadius: 8))
    }
}

private struct SettingsPanel: View {
    @ObservedObject var model: PortraitViewModel

    var body: some View {
        VStack(alignment: .leading, spacing: 10) {
            if model.models.count > 1 {
                Picker("Model", selection: $model.selectedModel) {
                    ForEach(model.models) { asset in
                        Text(asset.name).tag(Optional(asset))
                    }
                }
                .pickerStyle(.menu)
            }
            Text("Compute units").font(.caption)
            Picker("Compute units", selection: $model.compute) {
                ForEach(ComputeChoice.allCases) { choice in
                    Text(choice.rawValue).tag(choice)
                }
            }
            .pickerStyle(.segmented)
            Text("Effect").font(.caption)
            Picker("Effect", selection: $model.effect) {
                ForEach(Effect.allCases) { effect in
                    Text(effect.rawValue).tag(effect)
                }
            }
            .pickerStyle(.segmented)
            Text("Temporal smoothing \(Int(model.smoothing * 100))%").font(.caption)
            Slider(value: $model.smoothing, in: 0...0.95)
            Toggle("Front camera", isOn: $model.frontCamera).font(.caption)
        }
        .padding(12)
        .background(.black.opacity(0.65), in: RoundedRectangle(cornerRadius: 16))
    }
}

private struct CameraDeniedView: View {
    var body: some View {
        VStack(spacing: 16) {
            Text("Portrait mode segments the live camera image on this device. Allow camera access in Settings.")
                .multilineTextAlignment(.center)
            Button("Open Settings") {
                if let url = URL(string: UIApplication.openSettingsURLString) {
                    UIApplication.shared.open(url)
                }
            }
            .buttonStyle(.borderedProminent)
        }
        .padding(32)
    }
}
