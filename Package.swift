// swift-tools-version:6.0
// Trainyard: a distributed parameter-server training cluster simulator.
// No third-party packages: the toolchain's Foundation, Dispatch, Synchronization and XCTest only.
// Linux only: the platform layer calls Glibc directly and reads /proc (Docs/README.md maps the targets).
import PackageDescription

// The training kernel is compiled three times from one set of sources: a portable build and, on
// x86_64, a build for AVX2 + FMA and one for AVX-512. `TrainyardKernel` picks one at start-up from
// the CPU's features, so a binary never executes an AVX2 or AVX-512 instruction on a CPU without
// it. (Docs/kernel.md)
#if arch(x86_64)
let fastKernelFlags: [SwiftSetting] = [
    .unsafeFlags(["-target-cpu", "haswell"]),
    .define("TRAINYARD_FMA"),
]
// The 12×32 zmm micro-kernel (explicit SIMD16 and addingProduct).
let avx512KernelFlags: [SwiftSetting] = [
    .unsafeFlags(["-target-cpu", "skylake-avx512"]),
    .define("TRAINYARD_FMA"),
    .define("TRAINYARD_AVX512"),
]
#else
let fastKernelFlags: [SwiftSetting] = [.define("TRAINYARD_FMA")]
// Elsewhere the module exists (TrainyardKernel imports it) but is never chosen.
let avx512KernelFlags: [SwiftSetting] = []
#endif

let package = Package(
    name: "Trainyard",
    products: [
        .executable(name: "trainyard", targets: ["trainyard"]),
        .executable(name: "trainyard-chief", targets: ["trainyard-chief"]),
        .executable(name: "trainyard-worker", targets: ["trainyard-worker"]),
        .executable(name: "trainyard-ps", targets: ["trainyard-ps"]),
    ],
    targets: [
        // CPU feature detection and the few libc calls Swift cannot make directly.
        .target(name: "CTrainyardSupport"),

        // The math: GEMM, fused activations, losses, optimizers. No I/O, no platform imports.
        // The kernel is optimized in debug builds too: unoptimized SIMD code is tens of times slower,
        // and the debug-built cluster runs the tests and CI.
        .target(
            name: "TrainyardKernelPortable",
            swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release)), .unsafeFlags(["-O"], .when(configuration: .debug))],
            linkerSettings: [.linkedLibrary("m")]
        ),
        .target(
            name: "TrainyardKernelAVX2",
            swiftSettings: fastKernelFlags + [.unsafeFlags(["-Ounchecked"], .when(configuration: .release)), .unsafeFlags(["-O"], .when(configuration: .debug))],
            linkerSettings: [.linkedLibrary("m")]
        ),
        .target(
            name: "TrainyardKernelAVX512",
            swiftSettings: avx512KernelFlags + [.unsafeFlags(["-Ounchecked"], .when(configuration: .release)), .unsafeFlags(["-O"], .when(configuration: .debug))],
            linkerSettings: [.linkedLibrary("m")]
        ),
        .target(
            name: "TrainyardKernel",
            dependencies: ["TrainyardKernelPortable", "TrainyardKernelAVX2", "TrainyardKernelAVX512", "CTrainyardSupport"]
        ),

        // The pure core: cluster spec, wire format, role state machines, model, data, settings.
        // Optimized in debug builds too: the tests and CI run whole clusters of debug-built roles, and
        // unspecialized generic code moving model-sized buffers would dominate their run time.
        .target(name: "TrainyardCore", dependencies: ["TrainyardKernel"], swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))]),

        // Everything that touches the OS: sockets, processes, signals, files.
        .target(name: "TrainyardPlatform", dependencies: ["TrainyardCore", "CTrainyardSupport"]),

        // The shells that run the role state machines over real sockets.
        .target(name: "TrainyardRoles", dependencies: ["TrainyardCore", "TrainyardPlatform"]),

        // The launcher's engines: launcher, job store and service, job supervisor, sweep and scenario
        // runners, calibration, cost estimates, charts, benchmarks. No argv, no printing of results.
        .target(name: "TrainyardLaunch", dependencies: ["TrainyardKernel", "TrainyardCore", "TrainyardPlatform"]),

        // The launcher's commands: parse argv, call an engine, print.
        .target(name: "TrainyardCLI", dependencies: ["TrainyardKernel", "TrainyardCore", "TrainyardPlatform", "TrainyardLaunch"]),

        .executableTarget(name: "trainyard", dependencies: ["TrainyardCLI"]),
        .executableTarget(name: "trainyard-chief", dependencies: ["TrainyardRoles"]),
        .executableTarget(name: "trainyard-worker", dependencies: ["TrainyardRoles"]),
        .executableTarget(name: "trainyard-ps", dependencies: ["TrainyardRoles"]),

        .testTarget(
            name: "TrainyardKernelTests",
            dependencies: ["TrainyardKernel", "TrainyardKernelPortable", "TrainyardKernelAVX2", "TrainyardKernelAVX512", "TrainyardCore"]
        ),
        .testTarget(name: "TrainyardCoreTests", dependencies: ["TrainyardCore"]),
        .testTarget(name: "TrainyardPlatformTests", dependencies: ["TrainyardPlatform", "TrainyardRoles"]),
        .testTarget(name: "TrainyardLaunchTests", dependencies: ["TrainyardLaunch", "TrainyardCore", "TrainyardPlatform"]),
        .testTarget(name: "EndToEndTests", dependencies: ["TrainyardCore", "TrainyardPlatform"]),
    ]
)
