/// Whether Float arrays hold only finite values, at memory speed: v − v is 0 exactly for every
/// finite v and NaN for NaN and ±infinity, so a vector sum of v − v over the array is 0 exactly
/// when every value is finite. The ps checks every push with it
/// before applying it, and each trainer its gradients after every step.
public enum FiniteCheck {
    public static func allFinite(_ values: UnsafeBufferPointer<Float>) -> Bool {
        guard let base = values.baseAddress, !values.isEmpty else { return true }
        let raw = UnsafeRawPointer(base)
        let n = values.count
        // v − v is 0 for every finite v and NaN for ±∞ and NaN, and a NaN in a sum stays: float
        // subtractions and additions, which this module's baseline (SSE2) has as vector
        // instructions (an unsigned 32-bit maximum, the earlier way, it has not: that took 8% of
        // a training task's CPU).
        var acc0 = SIMD16<Float>.zero, acc1 = SIMD16<Float>.zero
        var i = 0
        while i + 32 <= n {
            let a = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            let b = raw.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD16<Float>.self)
            acc0 += a - a
            acc1 += b - b
            i += 32
        }
        var rest: Float = 0
        while i < n {
            rest += base[i] - base[i]
            i += 1
        }
        return ((acc0 + acc1).sum() + rest) == 0
    }

    public static func allFinite(_ values: [Float]) -> Bool {
        values.withUnsafeBufferPointer { allFinite($0) }
    }
}
