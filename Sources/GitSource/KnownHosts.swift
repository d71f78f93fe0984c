import Foundation

/// An OpenSSH `known_hosts` file, enough to verify one host key: plain and `[host]:port` patterns, wildcards,
/// negation, hashed `|1|salt|hash` entries, `@revoked`. `@cert-authority` lines are ignored (libgit2 does not
/// hand us certificates).
struct KnownHosts {
    enum Verdict: Equatable {
        case match
        /// A key of the presented type is listed for the host, and it is another key.
        case mismatch
        case revoked
        case unknown
        /// The host is listed, but only with keys of other types (sorted). Not evidence of an attack: servers have
        /// several host keys and the client picks the type (see `verify`).
        case otherKeyTypes([String])
    }

    struct Entry {
        var marker: String?
        var patterns: String
        var keyType: String
        var key: [UInt8]
    }

    var entries: [Entry] = []

    init(_ text: String) {
        for line in text.split(whereSeparator: \.isNewline) {
            var fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let first = fields.first, !first.hasPrefix("#") else { continue }
            var marker: String? = nil
            if first.hasPrefix("@") {
                marker = first
                fields.removeFirst()
            }
            guard fields.count >= 3, let key = Data(base64Encoded: fields[2]) else { continue }
            entries.append(Entry(marker: marker, patterns: fields[0], keyType: fields[1], key: [UInt8](key)))
        }
    }

    /// The name a host has in known_hosts: `host` on the default port, `[host]:port` otherwise.
    static func name(host: String, port: Int?) -> String {
        guard let port, port != 22 else { return host }
        return "[\(host)]:\(port)"
    }

    /// Checks `key` (the SSH wire-format public key blob) for `host` on `port` (nil or 22 = default).
    ///
    /// Only keys of the presented type count for `.mismatch`, as in OpenSSH: a server has one host key per type
    /// (typically ed25519, ECDSA and RSA) and the client chooses which one it is shown. With libgit2 1.5 and
    /// libssh2 1.10 that choice is ECDSA first, steered only by `~/.ssh/known_hosts` (never by our file), so a
    /// file listing just a host's ed25519 key meets its ECDSA key: that is `.otherKeyTypes`, not a
    /// man-in-the-middle. Found by SSHRemoteTests against a real sshd.
    func verify(host: String, port: Int?, key: [UInt8]) -> Verdict {
        let name = KnownHosts.name(host: host, port: port)
        let keyType = KnownHosts.keyType(of: key)
        var listedTypes: Set<String> = []
        var sawType = false
        var matched = false
        for entry in entries where KnownHosts.hostMatches(entry.patterns, name) {
            if entry.marker == "@cert-authority" { continue }
            if entry.marker == "@revoked" {
                if entry.key == key { return .revoked }
                continue
            }
            listedTypes.insert(entry.keyType)
            // An unparsable blob (no type) is compared with every entry.
            guard keyType == nil || entry.keyType == keyType else { continue }
            sawType = true
            if entry.key == key { matched = true }
        }
        if matched { return .match }
        if sawType { return .mismatch }
        return listedTypes.isEmpty ? .unknown : .otherKeyTypes(listedTypes.sorted())
    }

    /// The key type name at the start of a wire-format key blob (uint32 length + name).
    static func keyType(of key: [UInt8]) -> String? {
        guard key.count >= 4 else { return nil }
        let length = Int(key[0]) << 24 | Int(key[1]) << 16 | Int(key[2]) << 8 | Int(key[3])
        guard length > 0, key.count >= 4 + length else { return nil }
        return String(decoding: key[4..<4 + length], as: UTF8.self)
    }

    /// A comma-separated pattern list matches when some pattern matches and no negated (`!`) pattern does.
    static func hostMatches(_ patterns: String, _ name: String) -> Bool {
        if patterns.hasPrefix("|1|") { return hashedMatches(patterns, name) }
        var positive = false
        for pattern in patterns.split(separator: ",") {
            if pattern.hasPrefix("!") {
                if wildcard(pattern.dropFirst().lowercased(), name.lowercased()) { return false }
            } else if wildcard(pattern.lowercased(), name.lowercased()) {
                positive = true
            }
        }
        return positive
    }

    /// `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`.
    static func hashedMatches(_ pattern: String, _ name: String) -> Bool {
        let parts = pattern.split(separator: "|", omittingEmptySubsequences: true)
        guard parts.count == 3, parts[0] == "1", let salt = Data(base64Encoded: String(parts[1])),
            let hash = Data(base64Encoded: String(parts[2]))
        else { return false }
        return SHA1.hmac(key: [UInt8](salt), message: Array(name.utf8)) == [UInt8](hash)
    }

    /// OpenSSH host wildcards: `*` any run, `?` one character.
    static func wildcard(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern), t = Array(text)
        var pi = 0, ti = 0, star = -1, mark = 0
        while ti < t.count {
            if pi < p.count && (p[pi] == "?" || p[pi] == t[ti]) {
                pi += 1
                ti += 1
            } else if pi < p.count && p[pi] == "*" {
                star = pi
                mark = ti
                pi += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                ti = mark
            } else {
                return false
            }
        }
        while pi < p.count && p[pi] == "*" { pi += 1 }
        return pi == p.count
    }
}
