import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#else
    import Darwin
#endif

// The HTTP/1.1 hot path works on bytes: a head is located and checked in place, its fields are kept
// as ranges into the received buffer, and what is forwarded is copied from there line by line. Only
// the host and target become Strings (routing needs them). Parsing is strict where leniency lets a
// request be read two ways (request smuggling): CRLF line ends only, no obs-fold, no whitespace
// before a field's colon, Content-Length and Transfer-Encoding never both, one Host.

/// What kind of field a header line is, decided once while parsing.
enum FieldKind: UInt8 {
    case other
    case host
    case contentLength
    case transferEncoding
    case connection
    case upgrade
    /// keep-alive, proxy-connection, te, trailer, proxy-authorization, proxy-authenticate.
    case hopByHop
    case xForwardedFor
    case xForwardedProto
    case xForwardedHost
    case xRequestID

    private static let names: [([UInt8], FieldKind)] =
        ([

            ("host", .host), ("content-length", .contentLength), ("transfer-encoding", .transferEncoding),
            ("connection", .connection), ("upgrade", .upgrade), ("keep-alive", .hopByHop), ("proxy-connection", .hopByHop),
            ("te", .hopByHop), ("trailer", .hopByHop), ("proxy-authorization", .hopByHop), ("proxy-authenticate", .hopByHop),
            ("x-forwarded-for", .xForwardedFor), ("x-forwarded-proto", .xForwardedProto), ("x-forwarded-host", .xForwardedHost),
            ("x-request-id", .xRequestID),
        ] as [(String, FieldKind)]).map { (Array($0.0.utf8), $0.1) }

    /// Known names by length, so most fields are classified by one length check.
    private static let byLength: [[([UInt8], FieldKind)]] = {
        var table = [[([UInt8], FieldKind)]](repeating: [], count: 20)
        for entry in names { table[entry.0.count].append(entry) }
        return table
    }()

    static func classify(_ p: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> FieldKind {
        let length = end - start
        guard length < byLength.count else { return .other }
        for (name, kind) in byLength[length] where HTTPBytes.equalsLowercased(p, start, end, name) { return kind }
        return .other
    }
}

/// One header line: the name and the value (without surrounding whitespace) as offsets into the head.
struct HeaderField {
    var nameStart: Int32
    var nameEnd: Int32
    var valueStart: Int32
    var valueEnd: Int32
    var kind: FieldKind
}

/// Why a request head was refused, and with which status.
enum HeadError: Error, Equatable {
    case badRequest(String)
    /// The request line is longer than allowed (414).
    case uriTooLong
    /// Too many or too large header fields (431).
    case headersTooLarge
    /// A transfer coding other than chunked (501, as nginx).
    case notImplemented
    /// Not HTTP/1.0 or HTTP/1.1 (505).
    case versionNotSupported

    var status: Int {
        switch self {
        case .badRequest: 400
        case .uriTooLong: 414
        case .headersTooLarge: 431
        case .notImplemented: 501
        case .versionNotSupported: 505
        }
    }

    var reason: String {
        switch self {
        case .badRequest(let why): "bad request: \(why)"
        case .uriTooLong: "request line too long"
        case .headersTooLarge: "request header fields too large"
        case .notImplemented: "transfer coding not implemented"
        case .versionNotSupported: "HTTP version not supported"
        }
    }
}

/// Limits applied while a head is read.
struct HeadLimits {
    var maxRequestLine: Int
    var maxHeaderBytes: Int
    var maxHeaderCount: Int
}

/// How a message's body is delimited.
enum BodyFraming: Equatable {
    case none
    case length(Int)
    case chunked
    /// Response only: the body ends when the connection closes.
    case untilClose
}

/// Byte helpers shared by the request and response parsers.
enum HTTPBytes {
    static let cr: UInt8 = 13
    static let lf: UInt8 = 10

    /// Whether `p[start..<end]`, lowercased, equals `lowercased` (ASCII letters, digits and '-').
    @inline(__always)
    static func equalsLowercased(_ p: UnsafeRawBufferPointer, _ start: Int, _ end: Int, _ lowercased: [UInt8]) -> Bool {
        guard end - start == lowercased.count else { return false }
        var i = 0
        while i < lowercased.count {
            // `| 0x20` lowercases letters and leaves '-' and digits alone; no token byte maps onto them otherwise.
            if p[start + i] | 0x20 != lowercased[i] { return false }
            i += 1
        }
        return true
    }

    /// Token characters (RFC 9110 §5.6.2).
    static let tchar: [Bool] = {
        var t = [Bool](repeating: false, count: 256)
        for c in UInt8(ascii: "0")...UInt8(ascii: "9") { t[Int(c)] = true }
        for c in UInt8(ascii: "a")...UInt8(ascii: "z") { t[Int(c)] = true }
        for c in UInt8(ascii: "A")...UInt8(ascii: "Z") { t[Int(c)] = true }
        for c in "!#$%&'*+-.^_`|~".utf8 { t[Int(c)] = true }
        return t
    }()

    /// Where a head ends (one past its empty line), searching from `from`; nil while incomplete.
    static func headEnd(_ p: UnsafeRawBufferPointer, from: Int) -> Int? {
        guard let base = p.baseAddress else { return nil }
        var i = max(from, 0)
        while i < p.count {
            guard let found = memchr(base + i, Int32(lf), p.count - i) else { return nil }
            let j = base.distance(to: UnsafeRawPointer(found))
            if j >= 3 && p[j - 1] == cr && p[j - 2] == lf && p[j - 3] == cr { return j + 1 }
            i = j + 1
        }
        return nil
    }

    /// Parses header lines from `start` up to the empty line that ends the head at `end`.
    static func parseFields(
        _ p: UnsafeRawBufferPointer, from start: Int, end: Int, maxCount: Int, into fields: inout [HeaderField]
    ) throws(HeadError) {
        let tchar = HTTPBytes.tchar
        var i = start
        while true {
            guard i + 1 < end else { throw .badRequest("truncated header") }
            if p[i] == cr {
                guard p[i + 1] == lf else { throw .badRequest("bare CR") }
                return
            }
            if p[i] == 32 || p[i] == 9 { throw .badRequest("obsolete line folding") }
            let nameStart = i
            while i < end && tchar[Int(p[i])] { i += 1 }
            guard i < end, i > nameStart, p[i] == UInt8(ascii: ":") else { throw .badRequest("malformed header field") }
            let nameEnd = i
            i += 1
            while i < end && (p[i] == 32 || p[i] == 9) { i += 1 }
            let valueStart = i
            var valueEnd = i
            while i < end {
                let c = p[i]
                if c == cr { break }
                // Control characters other than HTAB (NUL, bare LF, DEL) are refused.
                if (c < 32 && c != 9) || c == 127 { throw .badRequest("control character in header value") }
                i += 1
                if c != 32 && c != 9 { valueEnd = i }
            }
            guard i + 1 < end, p[i + 1] == lf else { throw .badRequest("bare CR") }
            i += 2
            guard fields.count < maxCount else { throw .headersTooLarge }
            fields.append(
                HeaderField(
                    nameStart: Int32(nameStart), nameEnd: Int32(nameEnd), valueStart: Int32(valueStart), valueEnd: Int32(valueEnd),
                    kind: FieldKind.classify(p, nameStart, nameEnd)))
        }
    }

    /// A Content-Length value: digits, or a list of identical values ("5, 5"); nil when invalid.
    static func contentLength(_ p: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Int? {
        var result: Int?
        var i = start
        while i < end {
            while i < end && (p[i] == 32 || p[i] == 9) { i += 1 }
            var value = 0
            var digits = 0
            while i < end, p[i] >= 48 && p[i] <= 57 {
                guard digits < 18 else { return nil }
                value = value * 10 + Int(p[i] - 48)
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            while i < end && (p[i] == 32 || p[i] == 9) { i += 1 }
            if let r = result, r != value { return nil }
            result = value
            if i < end {
                guard p[i] == UInt8(ascii: ",") else { return nil }
                i += 1
            }
        }
        return result
    }

    /// Folds one Content-Length field into `contentLength`: repeated fields must agree (RFC 9112 §6.3).
    static func merge(contentLength field: HeaderField, in p: UnsafeRawBufferPointer, into contentLength: inout Int?) throws(HeadError) {
        guard let n = Self.contentLength(p, Int(field.valueStart), Int(field.valueEnd)) else { throw .badRequest("invalid Content-Length") }
        if let previous = contentLength, previous != n { throw .badRequest("conflicting Content-Length") }
        contentLength = n
    }

    /// Runs `parse` over the first `length` bytes of `buffer`, as a slice the parsed head keeps.
    static func withHead<Head>(
        _ buffer: ByteBuffer, length: Int, _ parse: (UnsafeRawBufferPointer, ByteBuffer) throws(HeadError) -> Head
    ) throws(HeadError) -> Head {
        let bytes = buffer.getSlice(at: buffer.readerIndex, length: length)!
        // `withUnsafeReadableBytes` rethrows untyped errors: carry the typed one out in a Result.
        let result: Result<Head, HeadError> = bytes.withUnsafeReadableBytes { p in
            do throws(HeadError) {
                return .success(try parse(p, bytes))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Calls `body` with each comma-separated token of a field value, trimmed (ranges into `p`).
    static func forEachToken(_ p: UnsafeRawBufferPointer, _ start: Int, _ end: Int, _ body: (Int, Int) -> Void) {
        var i = start
        while i < end {
            while i < end && (p[i] == 32 || p[i] == 9 || p[i] == UInt8(ascii: ",")) { i += 1 }
            let tokenStart = i
            var tokenEnd = i
            while i < end && p[i] != UInt8(ascii: ",") {
                if p[i] != 32 && p[i] != 9 { tokenEnd = i + 1 }
                i += 1
            }
            if tokenEnd > tokenStart { body(tokenStart, tokenEnd) }
        }
    }

    static let close = Array("close".utf8)
    static let keepAlive = Array("keep-alive".utf8)
    static let upgrade = Array("upgrade".utf8)
    static let chunked = Array("chunked".utf8)
}

/// What the Connection header fields of a message say.
struct ConnectionOptions {
    var close = false
    var keepAlive = false
    var upgrade = false
    /// Other tokens: names of further hop-by-hop fields (RFC 9110 §7.6.1), as ranges into the head.
    var named: [(Int32, Int32)] = []

    init() {}

    init(_ p: UnsafeRawBufferPointer, fields: [HeaderField]) {
        for field in fields where field.kind == .connection {
            HTTPBytes.forEachToken(p, Int(field.valueStart), Int(field.valueEnd)) { s, e in
                if HTTPBytes.equalsLowercased(p, s, e, HTTPBytes.close) {
                    close = true
                } else if HTTPBytes.equalsLowercased(p, s, e, HTTPBytes.keepAlive) {
                    keepAlive = true
                } else if HTTPBytes.equalsLowercased(p, s, e, HTTPBytes.upgrade) {
                    upgrade = true
                } else {
                    named.append((Int32(s), Int32(e)))
                }
            }
        }
    }

    /// Whether `field` is named by a Connection token (and so must not be forwarded).
    func names(_ field: HeaderField, in p: UnsafeRawBufferPointer) -> Bool {
        guard !named.isEmpty, field.kind == .other else { return false }
        let length = Int(field.nameEnd - field.nameStart)
        for (s, e) in named where Int(e - s) == length {
            var same = true
            for k in 0..<length where p[Int(s) + k] | 0x20 != p[Int(field.nameStart) + k] | 0x20 {
                same = false
                break
            }
            if same { return true }
        }
        return false
    }
}

/// A parsed request head, its fields as ranges into `bytes` (exactly the head, empty line included).
///
/// A class: it is handed around (exchange, route predicates) and a reference costs one retain where
/// copying the struct cost one per field.
final class RequestHead: Sendable {
    let bytes: ByteBuffer
    let method: Range<Int>
    let target: Range<Int>
    let minorVersion: Int
    let fields: [HeaderField]
    let connection: ConnectionOptions
    let framing: BodyFraming
    /// The Host field's value, or the authority of an absolute-form target.
    let host: Range<Int>?
    /// Where the origin-form part (path and query) of the target starts (after an absolute-form authority).
    let pathStart: Int
    let isUpgrade: Bool
    let isHEAD: Bool

    init(
        bytes: ByteBuffer, method: Range<Int>, target: Range<Int>, minorVersion: Int, fields: [HeaderField],
        connection: ConnectionOptions, framing: BodyFraming, host: Range<Int>?, pathStart: Int, isUpgrade: Bool, isHEAD: Bool
    ) {
        self.bytes = bytes
        self.method = method
        self.target = target
        self.minorVersion = minorVersion
        self.fields = fields
        self.connection = connection
        self.framing = framing
        self.host = host
        self.pathStart = pathStart
        self.isUpgrade = isUpgrade
        self.isHEAD = isHEAD
    }

    var keepAlive: Bool {
        if connection.close { return false }
        return minorVersion >= 1 || connection.keepAlive
    }

    func string(_ range: Range<Int>) -> String {
        bytes.getString(at: bytes.readerIndex + range.lowerBound, length: range.count) ?? ""
    }

    var methodString: String { string(method) }
    var targetString: String { string(target) }
    var hostString: String { host.map(string) ?? "" }
    /// Path and query, as sent upstream.
    var originForm: Range<Int> { pathStart..<target.upperBound }

    func value(of kind: FieldKind) -> String? {
        fields.first { $0.kind == kind }.map { string(Int($0.valueStart)..<Int($0.valueEnd)) }
    }

    /// The value of the first field named `name` (lowercase), for route predicates on headers.
    func value(named name: String) -> String? {
        let wanted = Array(name.utf8)
        return bytes.withUnsafeReadableBytes { p -> String? in
            for field in fields where HTTPBytes.equalsLowercased(p, Int(field.nameStart), Int(field.nameEnd), wanted) {
                return String(decoding: UnsafeRawBufferPointer(rebasing: p[Int(field.valueStart)..<Int(field.valueEnd)]), as: UTF8.self)
            }
            return nil
        }
    }

    var headerCount: Int { fields.count }

    /// The host, lowercased, without port or trailing dots; from the bytes, without Character-level
    /// String operations (grapheme breaking shows in profiles).
    var normalizedHost: String {
        guard let host else { return "" }
        return bytes.withUnsafeReadableBytes { p in
            var start = host.lowerBound
            var end = host.upperBound
            if start < end && p[start] == UInt8(ascii: "[") {
                // [v6]:port keeps its brackets.
                var close = start
                while close < end && p[close] != UInt8(ascii: "]") { close += 1 }
                end = min(close + 1, end)
            } else {
                var i = end
                while i > start {
                    i -= 1
                    if p[i] == UInt8(ascii: ":") {
                        end = i
                        break
                    }
                }
            }
            while end > start && p[end - 1] == UInt8(ascii: ".") { end -= 1 }
            if start > end { start = end }
            return String(unsafeUninitializedCapacity: end - start) { out in
                for k in 0..<(end - start) {
                    let c = p[start + k]
                    out[k] = c >= 65 && c <= 90 ? c + 32 : c
                }
                return end - start
            }
        }
    }

    /// The path and the query (without `?`) of the target's origin form.
    var pathAndQuery: (Substring, Substring) {
        let range = originForm
        return bytes.withUnsafeReadableBytes { p in
            var q = range.lowerBound
            while q < range.upperBound && p[q] != UInt8(ascii: "?") { q += 1 }
            // An absolute-form target without a path ("http://host") asks for "/".
            let path =
                q == range.lowerBound ? "/" : String(decoding: UnsafeRawBufferPointer(rebasing: p[range.lowerBound..<q]), as: UTF8.self)
            guard q < range.upperBound else { return (Substring(path), "") }
            let query = String(decoding: UnsafeRawBufferPointer(rebasing: p[(q + 1)..<range.upperBound]), as: UTF8.self)
            return (Substring(path), Substring(query))
        }
    }

    /// Parses the head at the start of `buffer` (its first `length` bytes).
    static func parse(_ buffer: ByteBuffer, length: Int, limits: HeadLimits) throws(HeadError) -> RequestHead {
        try HTTPBytes.withHead(buffer, length: length) { p, bytes throws(HeadError) in try parse(p, bytes: bytes, limits: limits) }
    }

    private static func parse(_ p: UnsafeRawBufferPointer, bytes: ByteBuffer, limits: HeadLimits) throws(HeadError) -> RequestHead {
        let end = p.count
        let tchar = HTTPBytes.tchar
        var i = 0
        while i < end && tchar[Int(p[i])] { i += 1 }
        let method = 0..<i
        guard i > 0, i < end, p[i] == 32 else { throw .badRequest("malformed request line") }
        i += 1
        let targetStart = i
        while i < end && p[i] > 32 && p[i] != 127 { i += 1 }
        let target = targetStart..<i
        guard !target.isEmpty, i < end, p[i] == 32 else { throw .badRequest("malformed request line") }
        i += 1
        // "HTTP/1.1\r\n"
        guard end - i >= 10, p[i] == UInt8(ascii: "H"), p[i + 1] == UInt8(ascii: "T"), p[i + 2] == UInt8(ascii: "T"),
            p[i + 3] == UInt8(ascii: "P"), p[i + 4] == UInt8(ascii: "/")
        else { throw .badRequest("malformed request line") }
        let major = p[i + 5]
        let minor = p[i + 7]
        guard p[i + 6] == UInt8(ascii: "."), major >= 48 && major <= 57, minor >= 48 && minor <= 57,
            p[i + 8] == HTTPBytes.cr, p[i + 9] == HTTPBytes.lf
        else { throw .badRequest("malformed request line") }
        guard major == 49, minor == 48 || minor == 49 else { throw .versionNotSupported }
        let requestLineLength = i + 10
        guard requestLineLength <= limits.maxRequestLine else { throw .uriTooLong }
        guard end - requestLineLength <= limits.maxHeaderBytes else { throw .headersTooLarge }
        var fields: [HeaderField] = []
        fields.reserveCapacity(16)
        try HTTPBytes.parseFields(p, from: requestLineLength, end: end, maxCount: limits.maxHeaderCount, into: &fields)

        // Framing (RFC 9112 §6): Transfer-Encoding must be exactly chunked; never with Content-Length.
        var contentLength: Int?
        var transferEncodings = 0
        var chunked = false
        var host: Range<Int>?
        var upgradeField = false
        for field in fields {
            switch field.kind {
            case .contentLength:
                try HTTPBytes.merge(contentLength: field, in: p, into: &contentLength)
            case .transferEncoding:
                transferEncodings += 1
                chunked = HTTPBytes.equalsLowercased(p, Int(field.valueStart), Int(field.valueEnd), HTTPBytes.chunked)
                if !chunked { throw .notImplemented }
            case .host:
                guard host == nil else { throw .badRequest("more than one Host") }
                host = Int(field.valueStart)..<Int(field.valueEnd)
            case .upgrade:
                upgradeField = true
            default:
                break
            }
        }
        if transferEncodings > 0 {
            guard contentLength == nil else { throw .badRequest("both Content-Length and Transfer-Encoding") }
            guard transferEncodings == 1 else { throw .badRequest("more than one Transfer-Encoding") }
            guard minor == 49 else { throw .badRequest("Transfer-Encoding in an HTTP/1.0 request") }
        }
        let framing: BodyFraming = chunked ? .chunked : (contentLength.map { $0 > 0 ? .length($0) : .none } ?? .none)

        // Absolute-form targets (RFC 9112 §3.2.2) name the host themselves; it wins over Host.
        var pathStart = targetStart
        if p[targetStart] != UInt8(ascii: "/") {
            if let authorityStart = Self.absoluteFormAuthority(p, target) {
                var authorityEnd = authorityStart
                while authorityEnd < target.upperBound && p[authorityEnd] != UInt8(ascii: "/") && p[authorityEnd] != UInt8(ascii: "?") {
                    authorityEnd += 1
                }
                host = authorityStart..<authorityEnd
                pathStart = authorityEnd
            } else if !(target.count == 1 && p[targetStart] == UInt8(ascii: "*")) {
                throw .badRequest("unsupported request target")
            }
        }
        if minor == 49 && host == nil { throw .badRequest("missing Host") }
        let connection = ConnectionOptions(p, fields: fields)
        let isHEAD =
            method.count == 4 && p[0] == UInt8(ascii: "H") && p[1] == UInt8(ascii: "E") && p[2] == UInt8(ascii: "A")
            && p[3] == UInt8(ascii: "D")
        return RequestHead(
            bytes: bytes, method: method, target: target, minorVersion: Int(minor - 48), fields: fields, connection: connection,
            framing: framing, host: host, pathStart: pathStart, isUpgrade: minor == 49 && upgradeField && connection.upgrade,
            isHEAD: isHEAD)
    }

    /// Where the authority of an `http://` or `https://` target starts.
    private static func absoluteFormAuthority(_ p: UnsafeRawBufferPointer, _ target: Range<Int>) -> Int? {
        for scheme in [Array("http://".utf8), Array("https://".utf8)] where target.count > scheme.count {
            if HTTPBytes.equalsLowercased(p, target.lowerBound, target.lowerBound + scheme.count, scheme) {
                return target.lowerBound + scheme.count
            }
        }
        return nil
    }
}

/// A parsed response head from an upstream.
struct ResponseHead {
    var bytes: ByteBuffer
    var status: Int
    /// The status line from the status code on ("200 OK"), without CRLF.
    var statusText: Range<Int>
    var minorVersion: Int
    var fields: [HeaderField]
    var connection: ConnectionOptions
    var contentLength: Int?
    var chunked: Bool

    /// Whether the upstream keeps the connection open after this response.
    var keepAlive: Bool {
        if connection.close { return false }
        return minorVersion >= 1 || connection.keepAlive
    }

    /// How the body is delimited, given the request's method (RFC 9112 §6.3).
    func framing(requestWasHEAD: Bool) -> BodyFraming {
        if requestWasHEAD || status == 204 || status == 304 || (100..<200).contains(status) { return .none }
        if chunked { return .chunked }
        if let contentLength { return contentLength > 0 ? .length(contentLength) : .none }
        return .untilClose
    }

    func string(_ range: Range<Int>) -> String {
        bytes.getString(at: bytes.readerIndex + range.lowerBound, length: range.count) ?? ""
    }

    static func parse(_ buffer: ByteBuffer, length: Int) throws(HeadError) -> ResponseHead {
        try HTTPBytes.withHead(buffer, length: length) { p, bytes throws(HeadError) in try parse(p, bytes: bytes) }
    }

    private static func parse(_ p: UnsafeRawBufferPointer, bytes: ByteBuffer) throws(HeadError) -> ResponseHead {
        let end = p.count
        // "HTTP/1.x NNN reason\r\n" (the reason may be empty, and its space missing).
        guard end >= 14, p[0] == UInt8(ascii: "H"), p[1] == UInt8(ascii: "T"), p[2] == UInt8(ascii: "T"), p[3] == UInt8(ascii: "P"),
            p[4] == UInt8(ascii: "/"), p[5] == UInt8(ascii: "1"), p[6] == UInt8(ascii: "."), p[8] == 32
        else { throw .badRequest("malformed status line") }
        let minor = Int(p[7]) - 48
        guard minor == 0 || minor == 1 else { throw .badRequest("unsupported HTTP version") }
        var status = 0
        for k in 9..<12 {
            guard p[k] >= 48 && p[k] <= 57 else { throw .badRequest("malformed status code") }
            status = status * 10 + Int(p[k] - 48)
        }
        var i = 12
        while i < end && p[i] != HTTPBytes.cr {
            if p[i] < 32 && p[i] != 9 { throw .badRequest("control character in status line") }
            i += 1
        }
        guard i + 1 < end, p[i + 1] == HTTPBytes.lf else { throw .badRequest("malformed status line") }
        let statusText = 9..<i
        var fields: [HeaderField] = []
        fields.reserveCapacity(16)
        try HTTPBytes.parseFields(p, from: i + 2, end: end, maxCount: 1000, into: &fields)
        var contentLength: Int?
        var transferEncoding = false
        var chunked = false
        for field in fields {
            switch field.kind {
            case .contentLength:
                try HTTPBytes.merge(contentLength: field, in: p, into: &contentLength)
            case .transferEncoding:
                transferEncoding = true
                // Chunked only as the final coding; anything else is delimited by the connection's close.
                var last: (Int, Int)?
                HTTPBytes.forEachToken(p, Int(field.valueStart), Int(field.valueEnd)) { last = ($0, $1) }
                chunked = last.map { HTTPBytes.equalsLowercased(p, $0.0, $0.1, HTTPBytes.chunked) } ?? false
            default:
                break
            }
        }
        if transferEncoding && contentLength != nil { throw .badRequest("both Content-Length and Transfer-Encoding") }
        return ResponseHead(
            bytes: bytes, status: status, statusText: statusText, minorVersion: minor, fields: fields,
            connection: ConnectionOptions(p, fields: fields), contentLength: contentLength, chunked: chunked)
    }
}

/// Follows the chunked transfer coding (RFC 9112 §7.1) through a byte stream without changing it,
/// to find where the message ends; optionally reports the data ranges (to remove the coding).
struct ChunkedScanner {
    enum State: Equatable {
        case size
        case sizeTail
        case sizeLF
        case data
        case dataCR
        case dataLF
        case trailerStart
        case trailer
        case trailerLF
        case endLF
        case done
    }

    private(set) var state = State.size
    private var size = 0
    private var digits = 0
    private var remaining = 0
    private var lastChunk = false

    var isDone: Bool { state == .done }

    /// Scans `p` from `start`; returns how many bytes belong to this message (the rest, if any, does
    /// not). `data` receives each run of chunk data as a range of `p`.
    mutating func scan(_ p: UnsafeRawBufferPointer, from start: Int = 0, data: (Range<Int>) -> Void) throws(HeadError) -> Int {
        var i = start
        let end = p.count
        while i < end {
            let c = p[i]
            switch state {
            case .size:
                if let v = Self.hexValue(c) {
                    guard digits < 15 else { throw .badRequest("chunk size too large") }
                    size = size << 4 | v
                    digits += 1
                } else {
                    guard digits > 0 else { throw .badRequest("malformed chunk size") }
                    if c == HTTPBytes.cr {
                        state = .sizeLF
                    } else if c == UInt8(ascii: ";") || c == 32 || c == 9 {
                        state = .sizeTail
                    } else {
                        throw .badRequest("malformed chunk size")
                    }
                }
                i += 1
            case .sizeTail:
                // Chunk extensions are passed through unread.
                if c == HTTPBytes.cr {
                    state = .sizeLF
                } else if c == HTTPBytes.lf || c == 0 {
                    throw .badRequest("malformed chunk extension")
                }
                i += 1
            case .sizeLF:
                guard c == HTTPBytes.lf else { throw .badRequest("bare CR in chunk size line") }
                i += 1
                if size == 0 {
                    state = .trailerStart
                } else {
                    remaining = size
                    state = .data
                }
                size = 0
                digits = 0
            case .data:
                let n = min(remaining, end - i)
                data(i..<(i + n))
                remaining -= n
                i += n
                if remaining == 0 { state = .dataCR }
            case .dataCR:
                guard c == HTTPBytes.cr else { throw .badRequest("chunk data longer than its size") }
                state = .dataLF
                i += 1
            case .dataLF:
                guard c == HTTPBytes.lf else { throw .badRequest("bare CR after chunk data") }
                state = .size
                i += 1
            case .trailerStart:
                state = c == HTTPBytes.cr ? .endLF : .trailer
                i += 1
            case .trailer:
                if c == HTTPBytes.cr { state = .trailerLF }
                i += 1
            case .trailerLF:
                guard c == HTTPBytes.lf else { throw .badRequest("bare CR in trailer") }
                state = .trailerStart
                i += 1
            case .endLF:
                guard c == HTTPBytes.lf else { throw .badRequest("bare CR at the end of a chunked body") }
                state = .done
                return i + 1 - start
            case .done:
                return i - start
            }
        }
        return end - start
    }

    @inline(__always)
    static func hexValue(_ c: UInt8) -> Int? {
        switch c {
        case 48...57: Int(c - 48)
        case 65...70: Int(c - 55)
        case 97...102: Int(c - 87)
        default: nil
        }
    }
}

extension ByteBuffer {
    /// Appends `p[range]`.
    @inline(__always)
    mutating func writeBytes(_ p: UnsafeRawBufferPointer, _ start: Int, _ end: Int) {
        writeBytes(UnsafeRawBufferPointer(rebasing: p[start..<end]))
    }

    @inline(__always)
    mutating func writeCRLF() {
        writeInteger(UInt16(0x0D0A))
    }
}
