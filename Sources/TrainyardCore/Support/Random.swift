/// SplitMix64: a small, fast, seedable generator. Every random choice Trainyard makes (data, weights,
/// shuffles, fault targets, sweep samples) comes from one of these, so runs repeat exactly from a seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// A generator for stream `stream` of `seed`: independent streams from one user-facing seed.
    public init(seed: UInt64, stream: UInt64) {
        var mixer = SplitMix64(seed: seed ^ (stream &* 0x9E37_79B9_7F4A_7C15))
        state = mixer.next() ^ stream
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Standard normal (Box–Muller).
    public mutating func nextGaussian() -> Double {
        var u = nextUnit()
        while u <= 0 { u = nextUnit() }
        let v = nextUnit()
        return (-2 * _logD(u)).squareRoot() * _cosD(2 * Double.pi * v)
    }
}

// libm without a platform import, so the core stays pure.
@_silgen_name("log") func _logD(_ x: Double) -> Double
@_silgen_name("cos") func _cosD(_ x: Double) -> Double
@_silgen_name("exp") func _expD(_ x: Double) -> Double
@_silgen_name("tanh") func _tanhD(_ x: Double) -> Double
@_silgen_name("pow") func _powD(_ x: Double, _ y: Double) -> Double

/// Elementary functions for the pure core (which does not import Foundation's platform layer).
public enum Math {
    public static func log(_ x: Double) -> Double { _logD(x) }
    public static func exp(_ x: Double) -> Double { _expD(x) }
    public static func tanh(_ x: Double) -> Double { _tanhD(x) }
    public static func pow(_ x: Double, _ y: Double) -> Double { _powD(x, y) }
}
