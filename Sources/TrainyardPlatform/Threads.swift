import Foundation

/// Starts a detached thread running `body`.
public func startThread(name: String, _ body: @escaping @Sendable () -> Void) {
    let thread = Thread { body() }
    thread.name = name
    thread.stackSize = 1 << 20
    thread.start()
}
