import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

// `DurableFile.write` hides the C function inside the type.
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}

/// File writes that survive a crash or power loss at any point: a reader sees the old content or
/// the new one, never a mix or a truncated file.
///
/// `write` is the classic sequence — write a temporary file next to the target, fsync it, rename it
/// over the target, fsync the directory (the rename itself is only durable once the directory is).
/// `append` is for write-ahead logs: the record is fsync'd before `append` returns, so a record the
/// caller saw written is on disk; a crash during `append` can leave a torn last line, which readers
/// of a log must ignore (`DurableFile.lines`).
public enum DurableFile {
    public struct IOError: Error, CustomStringConvertible, Equatable {
        public var operation: String
        public var path: String
        public var errno: Int32

        public var description: String { "\(operation) \(path): \(String(cString: strerror(errno)))" }
    }

    /// Replaces `path` with `bytes` atomically and durably. Creates the directory if needed.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try createDirectory(directory)
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw IOError(operation: "open", path: temporary, errno: errno) }
        do {
            try writeAll(fd, bytes, path: temporary)
            guard fsync(fd) == 0 else { throw IOError(operation: "fsync", path: temporary, errno: errno) }
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        guard rename(temporary, path) == 0 else { throw IOError(operation: "rename", path: temporary, errno: errno) }
        try syncDirectory(directory)
    }

    /// Appends `bytes` to `path` (created if missing) and fsyncs before returning.
    public static func append(_ bytes: [UInt8], to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try createDirectory(directory)
        let existed = FileManager.default.fileExists(atPath: path)
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw IOError(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        try writeAll(fd, bytes, path: path)
        guard fsync(fd) == 0 else { throw IOError(operation: "fsync", path: path, errno: errno) }
        // A new file's directory entry must be durable too, or the whole log could vanish.
        if !existed { try syncDirectory(directory) }
    }

    /// The file's bytes, or nil when it does not exist.
    public static func read(_ path: String) throws -> [UInt8]? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw IOError(operation: "read", path: path, errno: EIO)
        }
        return [UInt8](data)
    }

    /// Removes `path` (if present) durably.
    public static func remove(_ path: String) throws {
        guard unlink(path) == 0 || errno == ENOENT else { throw IOError(operation: "unlink", path: path, errno: errno) }
        try syncDirectory((path as NSString).deletingLastPathComponent)
    }

    /// Complete lines of a log (each ended by `\n`); a torn last line — a crash in `append` — is left out.
    public static func lines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var out: [ArraySlice<UInt8>] = []
        var start = 0
        for (i, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") {
            if i > start { out.append(bytes[start..<i]) }
            start = i + 1
        }
        return out
    }

    static func createDirectory(_ directory: String) throws {
        guard !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) else { return }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try syncDirectory((directory as NSString).deletingLastPathComponent)
    }

    static func syncDirectory(_ directory: String) throws {
        let fd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw IOError(operation: "open", path: directory, errno: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw IOError(operation: "fsync", path: directory, errno: errno) }
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { systemWrite(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw IOError(operation: "write", path: path, errno: errno)
            }
            offset += n
        }
    }
}
