/// Whether Float arrays hold only finite values, at memory speed: NaN and ±infinity are exactly
/// the values whose exponent bits are all ones, so the largest of `bits & 0x7FFFFFFF` over the
/// array (an integer reduction the compiler vectorizes) tells. The ps checks every push with it
/// before applying it, and each trainer its gradients after every step.
public enum FiniteCheck {
    public static func allFinite(_ values: UnsafeBufferPointer<Float>) -> Bool {
        guard let base = values.baseAddress, !values.isEmpty else { return true }
        let raw = UnsafeRawPointer(base)
        let n = values.count
        let magnitude = SIMD16<UInt32>(repeating: 0x7FFF_FFFF)
        var acc = SIMD16<UInt32>.zero
        var i = 0
        while i + 16 <= n {
            acc = pointwiseMax(acc, raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<UInt32>.self) & magnitude)
            i += 16
        }
        var largest = acc.max()
        while i < n {
            largest = max(largest, base[i].bitPattern & 0x7FFF_FFFF)
            i += 1
        }
        return largest < 0x7F80_0000
    }

    public static func allFinite(_ values: [Float]) -> Bool {
        values.withUnsafeBufferPointer { allFinite($0) }
    }
}
