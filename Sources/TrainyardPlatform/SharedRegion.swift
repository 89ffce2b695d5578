import Glibc
import CTrainyardSupport
import TrainyardCore

/// One side's shared-memory region of a same-host connection (Docs/wire-protocol.md#shared-memory):
/// an anonymous memory file, sealed against shrinking and growing, mapped by both processes. The
/// side that made it writes a frame's Float array there and sends only the frame's other bytes;
/// the other side copies the array out (or, a ps's lent push, uses it where it lies until it has
/// handled the push), then stores the frame's generation in the region's first word, so the
/// writer knows the region is free again.
///
/// Layout: bytes 0..<8 the generation the reader consumed last (little-endian, atomic), the data
/// from byte 64 on.
public final class SharedRegion: @unchecked Sendable {
    public static let dataOffset = 64
    /// The smallest region made (later frames that fit reuse it).
    static let minimumSize = 1 << 20

    public let fd: Int32
    public let size: Int
    let base: UnsafeMutableRawPointer

    private init(fd: Int32, size: Int, base: UnsafeMutableRawPointer) {
        self.fd = fd
        self.size = size
        self.base = base
    }

    deinit {
        munmap(base, size)
        Posix.close(fd)
    }

    /// Bytes of data the region holds.
    public var capacity: Int { size - SharedRegion.dataOffset }
    public var data: UnsafeMutableRawPointer { base + SharedRegion.dataOffset }

    /// The generation the reader stored last.
    public var consumed: UInt64 {
        ty_load_acquire_u64(base.assumingMemoryBound(to: UInt64.self))
    }

    public func markConsumed(_ generation: UInt64) {
        ty_store_release_u64(base.assumingMemoryBound(to: UInt64.self), generation)
    }

    /// A new region with room for `bytes` of data (rounded up to whole MiB, at least 1 MiB).
    public static func make(bytes: Int) throws(SystemError) -> SharedRegion {
        let mib = 1 << 20
        let size = max(minimumSize, ((bytes + dataOffset + mib - 1) / mib) * mib)
        let fd = ty_region_create(size)
        guard fd >= 0 else { throw SystemError("memfd_create", errno: Posix.currentErrno, detail: "\(size) bytes") }
        do throws(SystemError) {
            return try map(fd: fd, size: size)
        } catch {
            Posix.close(fd)
            throw error
        }
    }

    /// The peer's region from the descriptor it sent, after checking it is what `make` makes (a
    /// sealed memory file, so it cannot shrink under the mapping) of the size the peer announced,
    /// no larger than `limit`. Takes the descriptor (closed on failure).
    public static func adopt(fd: Int32, announcedSize: Int, limit: Int) throws(FrameError) -> SharedRegion {
        var size = 0
        let checked = ty_region_check(fd, &size)
        guard checked == 1 else {
            Posix.close(fd)
            throw .malformed(tag: FrameCodec.regionTag, reason: checked == 0 ? "the shared region is not a sealed memory file" : "the shared region cannot be inspected")
        }
        guard size == announcedSize, size > dataOffset, size <= limit + dataOffset else {
            Posix.close(fd)
            throw .malformed(tag: FrameCodec.regionTag, reason: "a shared region of \(size) bytes (announced \(announcedSize), limit \(limit + dataOffset))")
        }
        do throws(SystemError) {
            return try map(fd: fd, size: size)
        } catch {
            Posix.close(fd)
            throw .malformed(tag: FrameCodec.regionTag, reason: "the shared region cannot be mapped: \(error)")
        }
    }

    private static func map(fd: Int32, size: Int) throws(SystemError) -> SharedRegion {
        guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            throw SystemError("mmap", errno: Posix.currentErrno, detail: "\(size) bytes")
        }
        return SharedRegion(fd: fd, size: size, base: p)
    }
}
