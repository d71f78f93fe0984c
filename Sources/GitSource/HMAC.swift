/// HMAC-SHA256 (RFC 2104 over FIPS 180-4), for webhook signatures. Built on this module's `SHA256` so the
/// project keeps no crypto dependency; checked against the RFC 4231 test vectors.
public enum HMAC {
    static let blockSize = 64

    /// The 32-byte HMAC-SHA256 of `message` under `key`.
    public static func sha256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        // Keys longer than a block are hashed first; shorter ones are zero-padded (RFC 2104 §2).
        var k = key.count > blockSize ? SHA256.hash(key) : key
        k.append(contentsOf: repeatElement(0, count: blockSize - k.count))
        var inner = SHA256()
        inner.update(k.map { $0 ^ 0x36 })
        inner.update(message)
        var outer = SHA256()
        outer.update(k.map { $0 ^ 0x5c })
        outer.update(inner.finalize())
        return outer.finalize()
    }

    /// Lower-case hex of `sha256(key:message:)`, the form GitHub, Gitea and Gogs send.
    public static func sha256Hex(key: [UInt8], message: [UInt8]) -> String {
        sha256(key: key, message: message).hexString
    }
}

/// Byte comparisons whose running time does not depend on where the inputs differ, so a caller probing a
/// signature cannot learn it byte by byte from response times.
public enum ConstantTime {
    /// Equal length and equal bytes. The length itself is not secret (a digest's length is public).
    public static func equals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }

    /// Compares two secrets of any length without revealing the expected one's length: both are hashed to 32
    /// bytes first, then compared in constant time.
    public static func secretEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        equals(SHA256.hash(a), SHA256.hash(b))
    }
}

/// Hexadecimal (either case) to bytes; `nil` for odd lengths or other characters.
public func decodeHex(_ text: some StringProtocol) -> [UInt8]? {
    let digits = Array(text.utf8)
    guard digits.count % 2 == 0 else { return nil }
    func value(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
    var out: [UInt8] = []
    out.reserveCapacity(digits.count / 2)
    var i = 0
    while i < digits.count {
        guard let high = value(digits[i]), let low = value(digits[i + 1]) else { return nil }
        out.append(high << 4 | low)
        i += 2
    }
    return out
}
