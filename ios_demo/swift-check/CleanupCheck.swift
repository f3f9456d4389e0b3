// Runs on Linux with the iOS app's own MaskCleanup.swift (tests/demos/test_demo_apps.py copies it in as
// main.swift). Argument: a folder holding cases.json and the masks it names (written by the test from
// tests/demos/cleanup_golden.py's cases and more); for each case the app's cleanup (or chamfer distance)
// is written next to it as <name>.out (float32, little-endian), the default halos to halos.txt, and the
// test compares them with the Python runtime's bit for bit. Checks the rest here; exits 1 if one fails.
import Foundation

/// Counts failed checks (a class, so the top-level code is the same in Swift 5 and 6 modes).
final class Checks {
    private(set) var failures = 0

    func check(_ ok: Bool, _ what: String, line: Int = #line) {
        if !ok {
            failures += 1
            print("FAIL CleanupCheck.swift:\(line): \(what)")
        }
    }
}

struct CleanCase: Decodable {
    let name: String
    let width: Int
    let height: Int
    let minRegion: Double
    let maxHole: Double
    let halo: Int?
    let threshold: Float?
}

struct DistanceCase: Decodable {
    let name: String
    let width: Int
    let height: Int
}

struct Manifest: Decodable {
    let clean: [CleanCase]
    let distance: [DistanceCase]
    let halos: [[Int]]  // [height, width]
}

func floats(_ url: URL) throws -> [Float] {
    let data = try Data(contentsOf: url)
    var values = [Float](repeating: 0, count: data.count / MemoryLayout<Float>.size)
    _ = values.withUnsafeMutableBytes { data.copyBytes(to: $0) }
    return values
}

func write(_ values: [Float], to url: URL) throws {
    try values.withUnsafeBytes { Data($0) }.write(to: url)
}

let checks = Checks()
let folder = URL(fileURLWithPath: CommandLine.arguments[1], isDirectory: true)
let manifest = try JSONDecoder().decode(Manifest.self,
                                        from: Data(contentsOf: folder.appendingPathComponent("cases.json")))

for c in manifest.clean {
    let prob = try floats(folder.appendingPathComponent("\(c.name).in"))
    let cleanup = try RegionCleanup(minRegion: c.minRegion, maxHole: c.maxHole)
    let out = try MaskCleanup.clean(prob, width: c.width, height: c.height, cleanup: cleanup,
                                    threshold: c.threshold ?? MaskCleanup.threshold, halo: c.halo)
    try write(out, to: folder.appendingPathComponent("\(c.name).out"))
}
for c in manifest.distance {
    let mask = try floats(folder.appendingPathComponent("\(c.name).in")).map { $0 != 0 }
    try write(MaskCleanup.chamferDistance(to: mask, width: c.width, height: c.height),
              to: folder.appendingPathComponent("\(c.name).out"))
}
let halos = manifest.halos.map { "\($0[0]) \($0[1]) \(MaskCleanup.defaultHalo(width: $0[1], height: $0[0]))" }
try halos.joined(separator: "\n")
    .write(to: folder.appendingPathComponent("halos.txt"), atomically: true, encoding: .utf8)

// The defaults in one place, and what the app runs.
checks.check(try RegionCleanup() == RegionCleanup.standard, "RegionCleanup() is the standard cleanup")
checks.check(RegionCleanup.standard.minRegion == 0.1 && RegionCleanup.standard.maxHole == 0.002,
             "the runtime's DEFAULT_CLEANUP: \(RegionCleanup.standard)")
checks.check(RegionCleanup.standard.active && !RegionCleanup.none.active, "standard is active, none is not")
checks.check(try RegionCleanup(minRegion: 0, maxHole: 0) == RegionCleanup.none, "none is both parts off")

// Fractions outside [0, 1] (NaN too) are refused, naming the field.
for (minRegion, maxHole, field) in [(-0.1, 0.0, "minRegion"), (1.5, 0.0, "minRegion"), (0.1, Double.nan, "maxHole"),
                                    (0.1, 2.0, "maxHole")] {
    do {
        _ = try RegionCleanup(minRegion: minRegion, maxHole: maxHole)
        checks.check(false, "RegionCleanup(\(minRegion), \(maxHole)) is refused")
    } catch {
        checks.check(error.localizedDescription.hasPrefix("\(field) must be a fraction"),
                     "\(error.localizedDescription)")
    }
}
// A mask that is not width x height is refused; sizes whose product overflows an Int too, without a trap.
for (count, width, height) in [(5, 2, 3), (0, 0, 0), (6, -2, -3), (2, Int.max / 2, 3), (4, Int.max, Int.max),
                               (1, Int.min, -1)] {
    do {
        _ = try MaskCleanup.clean([Float](repeating: 1, count: count), width: width, height: height)
        checks.check(false, "a mask of \(count) values is refused as \(width)x\(height)")
    } catch {
        checks.check(error as? MaskCleanupError == .sizeMismatch(width: width, height: height, count: count),
                     "\(error)")
    }
}
checks.check(MaskCleanupError.sizeMismatch(width: 3, height: 2, count: 5).localizedDescription
             == "a 3x2 mask has 6 values, got 5", "the mismatch names both counts")
checks.check(MaskCleanupError.sizeMismatch(width: Int.max, height: 2, count: 4).localizedDescription
             == "a mask cannot be \(Int.max)x2 (got 4 values)", "an overflowing size is described, not trapped on")
checks.check(MaskCleanup.pixelCount(width: Int.max / 2, height: 3) == nil && MaskCleanup.pixelCount(width: 0, height: 5) == nil
             && MaskCleanup.pixelCount(width: 7, height: 5) == 35, "pixelCount")
checks.check(MaskCleanup.defaultHalo(width: Int.max, height: Int.max) > 0, "a halo for any size, no overflow trap")
// One pixel: nothing to remove or fill, whatever it holds.
for value: Float in [0, 0.3, 0.5, 1] {
    checks.check(try MaskCleanup.clean([value], width: 1, height: 1) == [value], "a 1x1 mask of \(value) is kept")
}
// none returns the mask as it is, whatever it holds.
let blobs: [Float] = [1, 1, 0, 0, 0.6, 0, 0, 0, 0, 0, 0, 0]
checks.check(try MaskCleanup.clean(blobs, width: 4, height: 3, cleanup: .none) == blobs, "none changes nothing")

print(checks.failures == 0 ? "swift cleanup checks: all passed" : "swift cleanup checks: \(checks.failures) failed")
exit(checks.failures == 0 ? 0 : 1)
