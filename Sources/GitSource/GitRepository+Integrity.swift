import CGit2
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Guard against a libgit2 1.5 bug: reading a *truncated* loose object makes libgit2 loop forever inside zlib
/// (libgit2 issue #7342, fixed upstream by PR #7346, after 1.5.1). A half-written object after a crash or a full
/// disk must give an error, not hang the agent, so before libgit2 fully reads an object we inflate its loose
/// file ourselves (zlib's one-shot `uncompress`, which reports truncation) and refuse it if it is incomplete.
/// Packed objects are not affected and cost only a failed `stat`. Verified ids are remembered per instance.
extension GitRepository {
    func ensureIntact(_ oid: git_oid) throws {
        let id = hex(oid)
        if intactObjects.contains(id) { return }
        switch try looseObjectState(oid, id) {
        case .notLoose:
            return
        case .intact:
            // Only verified loose objects are remembered: packed ones cost one failed stat and may be many.
            intactObjects.insert(id)
        case .damaged:
            throw GitError(
                kind: .corruptRepository,
                message: "repository \(path) is corrupt: object \(id) is truncated or damaged")
        }
    }

    private enum LooseState { case notLoose, intact, damaged }

    private func looseObjectState(_ oid: git_oid, _ id: String) throws -> LooseState {
        guard let zlib = Zlib.shared, let gitDirectory = git_repository_path(handle).map({ String(cString: $0) })
        else { return .notLoose }
        let file =
            gitDirectory + (gitDirectory.hasSuffix("/") ? "" : "/")
            + "objects/\(id.prefix(2))/\(id.dropFirst(2))"
        guard let compressed = FileManager.default.contents(atPath: file), compressed.count >= 2 else {
            return .notLoose
        }
        // Only the standard zlib-wrapped format is read through the looping code path.
        let b0 = compressed[compressed.startIndex], b1 = compressed[compressed.startIndex + 1]
        guard b0 & 0x8F == 0x08, (UInt16(b0) << 8 | UInt16(b1)) % 31 == 0 else { return .notLoose }

        var odb: OpaquePointer?
        try check(git_repository_odb(&odb, handle), "cannot open the object database of \(path)")
        defer { git_odb_free(odb) }
        var size = 0
        var type = GIT_OBJECT_INVALID
        var copy = oid
        // Reading only the header inflates a bounded chunk and is not affected by the bug.
        try check(git_odb_read_header(&size, &type, odb, &copy), "cannot read object \(id) in \(path)")
        let capacity = size + 64  // "<type> <size>\0" header plus slack
        var output = [UInt8](repeating: 0, count: capacity)
        var outputLength = UInt(capacity)
        let status = compressed.withUnsafeBytes { input in
            output.withUnsafeMutableBufferPointer { out in
                zlib.uncompress(
                    out.baseAddress, &outputLength, input.bindMemory(to: UInt8.self).baseAddress,
                    UInt(input.count))
            }
        }
        // Z_OK = 0, Z_BUF_ERROR = -5 (more data than the header claims: libgit2 reports that itself).
        return status == 0 || status == -5 ? .intact : .damaged
    }
}

/// zlib's `uncompress`, looked up at run time in the zlib that libgit2 already loaded (this module may only
/// import libgit2's headers).
struct Zlib: @unchecked Sendable {
    typealias Uncompress =
        @convention(c) (
            UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<UInt>?, UnsafePointer<UInt8>?, UInt
        ) -> Int32

    let uncompress: Uncompress

    static let shared: Zlib? = {
        LibGit2.ensureInitialized()
        guard let process = dlopen(nil, RTLD_NOW), let symbol = dlsym(process, "uncompress") else { return nil }
        return Zlib(uncompress: unsafeBitCast(symbol, to: Uncompress.self))
    }()
}
