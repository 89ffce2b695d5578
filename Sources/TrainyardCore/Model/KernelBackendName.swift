import TrainyardKernel

/// The kernel build this process runs (`avx512`, `avx2+fma` or `portable`), for logs and benchmarks.
public enum KernelBackendName {
    public static var current: String { KernelBackend.active.rawValue }

    /// Throws (exit code 3, invalid input) when `TRAINYARD_KERNEL` names no build or one this CPU
    /// cannot run, so a `main` reports it in its own format before any kernel call. (Left
    /// unchecked, the first kernel call ends the process with the same message and code.)
    public static func check() throws {
        do { try KernelBackend.checkSelection() } catch let e as KernelSelectionError {
            throw RuntimeFailure(e.description, exitCode: .invalidInput)
        }
    }
}
