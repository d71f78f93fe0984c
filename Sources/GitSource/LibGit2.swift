import CGit2

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Process-wide libgit2 initialisation. libgit2 is ref-counted; we initialise once, lazily, and never shut
/// down, because other threads may still hold repositories when a caller would think it is "done".
enum LibGit2 {
    private static let token: Int32 = git_libgit2_init()

    static func ensureInitialized() {
        _ = token
    }
}

/// Hex form of an object id.
func hex(_ oid: UnsafePointer<git_oid>) -> String {
    var buffer = [UInt8](repeating: 0, count: Int(GIT_OID_HEXSZ))
    buffer.withUnsafeMutableBufferPointer { raw in
        raw.withMemoryRebound(to: CChar.self) { _ = git_oid_fmt($0.baseAddress, oid) }
    }
    return String(decoding: buffer, as: UTF8.self)
}

func hex(_ oid: git_oid) -> String {
    var copy = oid
    return hex(&copy)
}

/// Parses a full 40-character hex id; `nil` if malformed.
func parseOID(_ sha: String) -> git_oid? {
    guard sha.utf8.count == Int(GIT_OID_HEXSZ), sha.utf8.allSatisfy(\.isHexDigit) else { return nil }
    var oid = git_oid()
    return git_oid_fromstr(&oid, sha) == 0 ? oid : nil
}

extension UInt8 {
    var isHexDigit: Bool {
        (48...57).contains(self) || (65...70).contains(self) || (97...102).contains(self)
    }
}

/// Calls `body` with a `git_strarray` whose strings live for the duration of the call.
func withStrArray<R>(_ strings: [String], _ body: (UnsafeMutablePointer<git_strarray>) throws -> R) rethrows -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    defer { pointers.forEach { free($0) } }
    return try pointers.withUnsafeMutableBufferPointer { buffer in
        var array = git_strarray(strings: buffer.baseAddress, count: buffer.count)
        return try body(&array)
    }
}
