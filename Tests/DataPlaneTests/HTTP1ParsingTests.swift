import NIOCore
import Testing

@testable import DataPlane

/// The byte-level HTTP/1.x parsers: what they accept, what they refuse and with which status.
struct HTTP1ParsingTests {
    static let limits = HeadLimits(maxRequestLine: 8192, maxHeaderBytes: 32768, maxHeaderCount: 100)

    func parse(_ text: String, limits: HeadLimits = Self.limits) throws(HeadError) -> RequestHead {
        let buffer = ByteBuffer(string: text)
        let end = buffer.withUnsafeReadableBytes { HTTPBytes.headEnd($0, from: 0) } ?? buffer.readableBytes
        return try RequestHead.parse(buffer, length: end, limits: limits)
    }

    func status(_ text: String, limits: HeadLimits = Self.limits) -> Int {
        do {
            _ = try parse(text, limits: limits)
            return 200
        } catch {
            return error.status
        }
    }

    @Test func wellFormedRequest() throws {
        let head = try parse(
            "POST /a/b?x=1&y=2 HTTP/1.1\r\nHost: Shop.Example.com:8080.\r\nContent-Length: 5, 5\r\nConnection: keep-alive, X-Drop\r\nX-Drop: 1\r\n\r\n"
        )
        #expect(head.methodString == "POST")
        #expect(head.normalizedHost == "shop.example.com")
        #expect(head.pathAndQuery == ("/a/b", "x=1&y=2"))
        #expect(head.framing == .length(5))
        #expect(head.keepAlive)
        #expect(head.value(named: "x-drop") == "1")
        #expect(head.fields.map(\.kind) == [.host, .contentLength, .connection, .other])
        let dropped = head.bytes.withUnsafeReadableBytes { p in head.connection.names(head.fields[3], in: p) }
        #expect(dropped)
    }

    @Test func absoluteFormNamesTheHost() throws {
        let head = try parse("GET http://API.test HTTP/1.1\r\nHost: other.test\r\n\r\n")
        #expect(head.normalizedHost == "api.test")
        #expect(head.pathAndQuery.0 == "/")
    }

    @Test func connectionSemantics() throws {
        #expect(try !parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").keepAlive)
        #expect(try !parse("GET / HTTP/1.0\r\n\r\n").keepAlive)
        #expect(try parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keepAlive)
        #expect(try parse("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n").isUpgrade)
        #expect(try !parse("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n").isUpgrade)
        #expect(try parse("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n").isHEAD)
    }

    /// Every way a request could be read two ways, or is not HTTP/1.x, is refused.
    @Test(arguments: [
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 4, 5\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        ("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nX: a\u{0}b\r\nHost: a\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("GET /\u{7f} HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("GET relative HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("NOT HTTP AT ALL\r\n\r\n", 400),
        ("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
        ("GET / HTTP/1.1\r\nHost: a\r\nConnection close\r\n\r\n", 400),
    ])
    func refused(_ request: String, _ expected: Int) {
        #expect(status(request) == expected, "\(request.debugDescription)")
    }

    @Test func limits() {
        let limits = HeadLimits(maxRequestLine: 64, maxHeaderBytes: 128, maxHeaderCount: 3)
        #expect(status("GET /\(String(repeating: "x", count: 80)) HTTP/1.1\r\nHost: a\r\n\r\n", limits: limits) == 414)
        #expect(status("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits: limits) == 431)
        #expect(status("GET / HTTP/1.1\r\nHost: a\r\nA: \(String(repeating: "y", count: 200))\r\n\r\n", limits: limits) == 431)
        #expect(status("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", limits: limits) == 200)
    }

    /// The scanner finds the same end and data however the bytes are split.
    @Test func chunkedBodiesAcrossAnySplit() throws {
        let body = "4\r\nWiki\r\n7;ext=\"x\"\r\npedia i\r\nB\r\nn chunks.\r\n\r\n0\r\nTrailer: t\r\n\r\nNEXT"
        let bytes = Array(body.utf8)
        let messageLength = bytes.count - 4
        for chunkSize in [1, 2, 3, 7, bytes.count] {
            var scanner = ChunkedScanner()
            var data: [UInt8] = []
            var consumed = 0
            var offset = 0
            while offset < bytes.count && !scanner.isDone {
                let piece = Array(bytes[offset..<min(offset + chunkSize, bytes.count)])
                let n = try piece.withUnsafeBytes { p throws(HeadError) in
                    try scanner.scan(p) { range in data += piece[range] }
                }
                consumed += n
                offset += piece.count
            }
            #expect(scanner.isDone, "split \(chunkSize)")
            #expect(consumed == messageLength, "split \(chunkSize)")
            #expect(String(decoding: data, as: UTF8.self) == "Wikipedia in chunks.\r\n", "split \(chunkSize)")
        }
    }

    @Test(arguments: ["x\r\n", "\r\n", "4\r\nWikiX\r\n", "4\nWiki", "1234567890123456\r\n", "4;\u{0}\r\n"])
    func malformedChunks(_ text: String) {
        var scanner = ChunkedScanner()
        #expect(throws: HeadError.self) {
            _ = try Array(text.utf8).withUnsafeBytes { p throws(HeadError) in try scanner.scan(p) { _ in } }
        }
    }

    @Test func responseFraming() throws {
        func head(_ text: String) throws -> ResponseHead {
            let buffer = ByteBuffer(string: text)
            return try ResponseHead.parse(buffer, length: buffer.readableBytes)
        }
        #expect(try head("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n").framing(requestWasHEAD: false) == .length(3))
        #expect(try head("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n").framing(requestWasHEAD: true) == .none)
        #expect(try head("HTTP/1.1 204 No Content\r\n\r\n").framing(requestWasHEAD: false) == .none)
        #expect(try head("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n").framing(requestWasHEAD: false) == .none)
        #expect(try head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").framing(requestWasHEAD: false) == .chunked)
        #expect(try head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n").framing(requestWasHEAD: false) == .untilClose)
        #expect(try head("HTTP/1.0 200 OK\r\n\r\n").framing(requestWasHEAD: false) == .untilClose)
        #expect(try !head("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").keepAlive)
        #expect(try head("HTTP/1.1 200\r\n\r\n").status == 200)
        #expect(throws: HeadError.self) { try head("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n") }
        #expect(throws: HeadError.self) { try head("ICY 200 OK\r\n\r\n") }
    }
}
