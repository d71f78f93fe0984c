import RouteModel

/// v1 Secret: only what the data plane needs (certificates). `data` is base64 as in the API;
/// `stringData` is plain text and wins over `data` for the same key, as the API server merges them.
extension ObjectDecoder {
    func decodeSecret(_ f: TopLevelFields, object: NodeID, metadata: ObjectMeta, source: ObjectSource) -> Secret {
        let type = string(f.type, field: "type") ?? "Opaque"
        var data: [String: [UInt8]] = [:]
        if present(f.data) {
            guard doc.kind(f.data) == .mapping else {
                typeError(expected: "a mapping", f.data, field: "data")
                return Secret(metadata: metadata, type: type, data: [:], source: source)
            }
            within("data") {
                doc.forEachPair(f.data) { k, v in
                    guard doc.kind(k) == .scalar else {
                        error(prefixed("mapping keys must be strings", field: nil), at: k)
                        return
                    }
                    let key = doc.string(k)
                    within(.key(key)) {
                        if doc.isNull(v) {
                            error(prefixed("data value must be a base64 string, got null; quote it", field: nil), at: v)
                        } else if let text = string(v, field: nil) {
                            switch Base64.decode(text) {
                            case .success(let bytes): data[key] = bytes
                            case .failure(let problem):
                                error(prefixed("invalid base64: \(problem.message)", field: nil), at: v)
                            }
                        }
                    }
                }
            }
        }
        for (key, value) in stringMap(f.stringData, field: "stringData", what: "stringData").values {
            data[key] = Array(value.utf8)
        }
        if type == "kubernetes.io/tls" {
            for key in ["tls.crt", "tls.key"] where data[key] == nil {
                error(
                    "missing required key \(ScalarTyping.quoted(key)) in data of a kubernetes.io/tls Secret",
                    at: present(f.data) ? f.data : present(f.stringData) ? f.stringData : object)
            }
        }
        return Secret(metadata: metadata, type: type, data: data, source: source)
    }
}

/// Standard base64 (RFC 4648 §4, padded), as the API server decodes `[]byte` fields. Line breaks are
/// skipped, as Go's decoder does; anything else outside the alphabet is an error.
enum Base64 {
    struct Problem: Error {
        var message: String
    }

    private static let table: [UInt8] = {
        var t = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
            t[Int(c)] = UInt8(i)
        }
        return t
    }()

    static func decode(_ text: String) -> Result<[UInt8], Problem> {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count / 4 * 3)
        var quad: UInt32 = 0
        var n = 0
        var padding = 0
        var offset = -1
        for c in text.utf8 {
            offset += 1
            if c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r") { continue }
            if c == UInt8(ascii: "=") {
                padding += 1
                if n + padding > 4 || n < 2 { return .failure(Problem(message: "misplaced '=' at offset \(offset)")) }
                continue
            }
            let v = table[Int(c)]
            if v == 0xFF {
                let shown =
                    c >= 0x20 && c < 0x7F
                    ? "'\(Character(Unicode.Scalar(c)))'" : "byte 0x\(String(c, radix: 16))"
                return .failure(Problem(message: "illegal character \(shown) at offset \(offset)"))
            }
            if padding > 0 { return .failure(Problem(message: "data after '=' padding at offset \(offset)")) }
            quad = quad << 6 | UInt32(v)
            n += 1
            if n == 4 {
                out.append(UInt8(truncatingIfNeeded: quad >> 16))
                out.append(UInt8(truncatingIfNeeded: quad >> 8))
                out.append(UInt8(truncatingIfNeeded: quad))
                quad = 0
                n = 0
            }
        }
        if padding > 0 {
            guard n + padding == 4 else { return .failure(Problem(message: "incorrect padding")) }
            if n == 2 {
                out.append(UInt8(truncatingIfNeeded: quad >> 4))
            } else if n == 3 {
                out.append(UInt8(truncatingIfNeeded: quad >> 10))
                out.append(UInt8(truncatingIfNeeded: quad >> 2))
            }
        } else if n != 0 {
            return .failure(Problem(message: "length is not a multiple of 4 (missing '=' padding?)"))
        }
        return .success(out)
    }
}
