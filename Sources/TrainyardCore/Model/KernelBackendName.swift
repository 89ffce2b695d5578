import TrainyardKernel

/// The kernel build this process runs (`avx2+fma` or `portable`), for logs and benchmarks.
public enum KernelBackendName {
    public static var current: String { KernelBackend.active.rawValue }
}
