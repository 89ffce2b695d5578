import TrainyardKernel

/// Whether Float arrays hold only finite values, at memory speed (the kernel build's vectors): v − v is 0 exactly for every
/// finite v and NaN for NaN and ±infinity, so a vector sum of v − v over the array is 0 exactly
/// when every value is finite. The ps checks every push with it
/// before applying it, and each trainer its gradients after every step.
public enum FiniteCheck {
    public static func allFinite(_ values: UnsafeBufferPointer<Float>) -> Bool {
        guard let base = values.baseAddress, !values.isEmpty else { return true }
        return Checks.allFinite(count: values.count, values: base)
    }

    public static func allFinite(_ values: [Float]) -> Bool {
        values.withUnsafeBufferPointer { allFinite($0) }
    }

    /// `count` floats copied from `source` (any alignment) into a new array, and whether every one
    /// is finite: one pass, each value read once (a copy out of shared memory checks as it copies).
    public static func copy(count: Int, from source: UnsafeRawPointer) -> (values: [Float], allFinite: Bool) {
        var finite = true
        let values = [Float](unsafeUninitializedCapacity: count) { buffer, n in
            if count > 0 { finite = Checks.copyAllFinite(count: count, from: source, to: buffer.baseAddress!) }
            n = count
        }
        return (values, finite)
    }
}

extension Push {
    /// This push with lent gradients copied into `gradients`, checked finite as they are copied.
    public func copyingLentGradients() -> Push {
        guard let lent else { return self }
        var copy = self
        (copy.gradients, copy.gradientsKnownFinite) = FiniteCheck.copy(count: lent.count, from: lent.base)
        copy.lent = nil
        return copy
    }
}
