// Stand-in for the one Accelerate call MaskSmoother.swift makes, so it compiles and runs on Linux
// (tests/support/demo_swift.py drops the file's `import Accelerate` and adds this). Same signature as
// Accelerate's vDSP.linearInterpolate(_:_:using:): a + t * (b - a), element-wise.
enum vDSP {
    static func linearInterpolate(_ vectorA: [Float], _ vectorB: [Float], using interpolationConstant: Float) -> [Float] {
        precondition(vectorA.count == vectorB.count, "vDSP.linearInterpolate: lengths differ")
        return zip(vectorA, vectorB).map { $0 + interpolationConstant * ($1 - $0) }
    }
}
