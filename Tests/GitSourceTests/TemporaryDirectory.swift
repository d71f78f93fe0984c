import Foundation

/// A fresh directory under the system temp directory, removed when done. Prefer `with`, which removes it at the
/// end of the closure; the deinit is a fallback.
final class TemporaryDirectory: @unchecked Sendable {
    let path: String

    init(prefix: String = "gitway-test") throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        path = url.path
    }

    deinit {
        remove()
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// `path/component`.
    func appending(_ component: String) -> String {
        path + "/" + component
    }

    static func with<T>(_ body: (TemporaryDirectory) throws -> T) throws -> T {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        return try body(directory)
    }
}

/// UTF-8 bytes of a string, to keep test file tables short.
func bytes(_ string: String) -> [UInt8] {
    Array(string.utf8)
}
