// Runs on Linux with the iOS app's own ContractLoader.swift and MaskSmoother.swift (tests/support/demo_swift.py).
// Arguments: a Core ML contract the exporter wrote, a TFLite one, a bundle folder whose Models/ holds
// one good and one malformed contract. Prints what the app read; exits 1 if a check fails.
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

print(checks.failures == 0 ? "swift checks: all passed" : "swift checks: \(checks.failures) failed")
exit(checks.failures == 0 ? 0 : 1)
