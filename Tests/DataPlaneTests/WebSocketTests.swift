import DataPlane
import Foundation
import NIOCore
import NIOPosix
import RouteModel
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A blocking WebSocket client on a plain socket: the handshake and frames are written by hand, so the
/// test controls exactly which bytes travel together.
final class WebSocketRawClient {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: 15, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw TestFailure("connect to \(port) failed: errno \(errno)") }
    }

    deinit { close(fd) }

    static let key = "dGhlIHNhbXBsZSBub25jZQ=="
    /// RFC 6455 §1.3's example: the accept value for `key`.
    static let accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

    static func upgradeRequest(path: String, host: String) -> [UInt8] {
        Array(
            ("GET \(path) HTTP/1.1\r\nHost: \(host)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n\r\n").utf8)
    }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestFailure("send failed: errno \(errno)") }
            offset += n
        }
    }

    /// Reads more bytes; false at EOF.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n < 0 { throw TestFailure("recv failed: errno \(errno)") }
        if n == 0 { return false }
        buffer.append(contentsOf: chunk[0..<n])
        return true
    }

    /// Exactly `n` bytes.
    func take(_ n: Int) throws -> [UInt8] {
        while buffer.count < n { guard try fill() else { throw TestFailure("connection closed") } }
        defer { buffer.removeFirst(n) }
        return Array(buffer[0..<n])
    }

    /// The response head: status and lower-cased headers. Bytes after it stay buffered.
    func readHead() throws -> (status: Int, headers: [String: String]) {
        while buffer.firstRange(of: [13, 10, 13, 10]) == nil { guard try fill() else { throw TestFailure("closed before a head") } }
        let end = buffer.firstRange(of: [13, 10, 13, 10])!.upperBound
        let text = String(decoding: buffer[0..<end], as: UTF8.self)
        buffer.removeFirst(end)
        var lines = text.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        let status = Int(lines.removeFirst().split(separator: " ")[1])!
        var headers: [String: String] = [:]
        for line in lines {
            let i = line.firstIndex(of: ":")!
            headers[line[..<i].lowercased()] = line[line.index(after: i)...].trimmingCharacters(in: .whitespaces)
        }
        return (status, headers)
    }

    /// A masked client frame.
    static func frame(opcode: UInt8, _ payload: [UInt8], fin: Bool = true) -> [UInt8] {
        var out: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        if payload.count < 126 {
            out.append(0x80 | UInt8(payload.count))
        } else if payload.count < 65536 {
            out.append(0x80 | 126)
            out += [UInt8(payload.count >> 8), UInt8(payload.count & 0xff)]
        } else {
            out.append(0x80 | 127)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8((UInt64(payload.count) >> UInt64(shift)) & 0xff)) }
        }
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        out += mask
        out += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        return out
    }

    /// The next server frame (unmasked).
    func readFrame() throws -> (opcode: UInt8, fin: Bool, payload: [UInt8]) {
        let header = try take(2)
        var length = Int(header[1] & 0x7f)
        if length == 126 {
            let b = try take(2)
            length = Int(b[0]) << 8 | Int(b[1])
        } else if length == 127 {
            length = try take(8).reduce(0) { $0 << 8 | Int($1) }
        }
        return (header[0] & 0x0f, header[0] & 0x80 != 0, try take(length))
    }

    /// Whether the peer closed the connection (EOF) with nothing more to read.
    func readsEOF() throws -> Bool {
        if !buffer.isEmpty { return false }
        return try !fill()
    }
}

@Suite(.serialized)
struct WebSocketTests {
    /// The upgrade passes through; frames sent together with the upgrade request are not lost; text,
    /// binary, ping and close all round-trip; the connection is released afterwards.
    @Test func upgradeAndExchangeFrames() async throws {
        let backend = try BackendProcess(name: "ws")
        let proxy = try await ProxyFixture()
        await proxy.plane.install(makeTable(routes: [("a.test", .prefix("/"), "ws")], clusters: ["ws": [backend.port]]))

        let client = try WebSocketRawClient(port: proxy.port)
        // The first frame travels in the same write as the upgrade request.
        try client.send(
            WebSocketRawClient.upgradeRequest(path: "/ws", host: "a.test") + WebSocketRawClient.frame(opcode: 1, Array("early".utf8)))
        let (status, headers) = try client.readHead()
        #expect(status == 101)
        #expect(headers["upgrade"]?.lowercased() == "websocket")
        #expect(headers["connection"]?.lowercased() == "upgrade")
        #expect(headers["sec-websocket-accept"] == WebSocketRawClient.accept)

        let early = try client.readFrame()
        #expect(early.opcode == 1 && String(decoding: early.payload, as: UTF8.self) == "ws: early")

        try client.send(WebSocketRawClient.frame(opcode: 1, Array("hello".utf8)))
        #expect(String(decoding: try client.readFrame().payload, as: UTF8.self) == "ws: hello")

        // Large binary messages both ways (tunnel backpressure).
        let big = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        for _ in 0..<4 { try client.send(WebSocketRawClient.frame(opcode: 2, big)) }
        for _ in 0..<4 {
            let frame = try client.readFrame()
            #expect(frame.opcode == 2 && frame.payload == big)
        }

        try client.send(WebSocketRawClient.frame(opcode: 9, Array("ping".utf8)))
        let pong = try client.readFrame()
        #expect(pong.opcode == 10 && pong.payload == Array("ping".utf8))

        try client.send(WebSocketRawClient.frame(opcode: 8, [0x03, 0xe8]))
        let close = try client.readFrame()
        #expect(close.opcode == 8 && close.payload == [0x03, 0xe8])
        #expect(try client.readsEOF())
        try await waitUntil { await proxy.plane.metrics().activeConnections == 0 }
        await proxy.shutdown()
    }

    /// A backend that does not switch protocols gives an ordinary response, and the connection closes
    /// (nothing after an upgrade request can be parsed as HTTP).
    @Test func refusedUpgradeIsAnOrdinaryResponse() async throws {
        let backend = try BackendProcess(name: "plain")
        let proxy = try await ProxyFixture()
        await proxy.plane.install(makeTable(routes: [("a.test", .prefix("/"), "plain")], clusters: ["plain": [backend.port]]))

        let client = try WebSocketRawClient(port: proxy.port)
        try client.send(WebSocketRawClient.upgradeRequest(path: "/not-ws", host: "a.test"))
        let (status, headers) = try client.readHead()
        #expect(status == 200)
        #expect(headers["x-backend-name"] == "plain")
        #expect(headers["connection"]?.lowercased() == "close")
        let length = Int(headers["content-length"] ?? "") ?? 0
        let body = try client.take(length)
        let echo = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        let received = ((echo?["headers"] as? [[String]]) ?? []).map { ($0[0].lowercased(), $0[1]) }
        // The upgrade headers reached the backend.
        #expect(received.contains { $0.0 == "upgrade" && $0.1 == "websocket" })
        #expect(received.contains { $0.0 == "connection" && $0.1.lowercased() == "upgrade" })
        #expect(try client.readsEOF())

        // No route: answered locally, and closed too.
        let other = try WebSocketRawClient(port: proxy.port)
        try other.send(WebSocketRawClient.upgradeRequest(path: "/ws", host: "nowhere.test"))
        #expect(try other.readHead().status == 404)
        await proxy.shutdown()
    }

    /// A tunnel in which nothing moves for the idle timeout is closed; traffic keeps it open.
    @Test func idleTunnelIsClosed() async throws {
        let backend = try BackendProcess(name: "ws")
        var configuration = DataPlaneConfiguration()
        configuration.idleTimeout = .milliseconds(400)
        let proxy = try await ProxyFixture(configuration: configuration)
        await proxy.plane.install(makeTable(routes: [("a.test", .prefix("/"), "ws")], clusters: ["ws": [backend.port]]))
        let client = try WebSocketRawClient(port: proxy.port)
        try client.send(WebSocketRawClient.upgradeRequest(path: "/ws", host: "a.test"))
        #expect(try client.readHead().status == 101)
        // Traffic for longer than the timeout keeps it open.
        let start = Date()
        while Date().timeIntervalSince(start) < 1 {
            try client.send(WebSocketRawClient.frame(opcode: 1, Array("tick".utf8)))
            #expect(String(decoding: try client.readFrame().payload, as: UTF8.self) == "ws: tick")
        }
        let quiet = Date()
        #expect(try client.readsEOF())
        #expect(Date().timeIntervalSince(quiet) < 5)
        try await waitUntil { await proxy.plane.metrics().activeConnections == 0 }
        await proxy.shutdown()
    }

    /// Upgrades work on a keep-alive connection after ordinary requests, and over TLS (wss).
    @Test func upgradeAfterRequestsAndOverTLS() async throws {
        let backend = try BackendProcess(name: "ws")
        let proxy = try await ProxyFixture()
        await proxy.plane.install(makeTable(routes: [("a.test", .prefix("/"), "ws")], clusters: ["ws": [backend.port]]))

        let client = try WebSocketRawClient(port: proxy.port)
        try client.send(Array("GET /first HTTP/1.1\r\nHost: a.test\r\n\r\n".utf8))
        let (status, headers) = try client.readHead()
        #expect(status == 200)
        _ = try client.take(Int(headers["content-length"] ?? "") ?? 0)
        try client.send(WebSocketRawClient.upgradeRequest(path: "/ws", host: "a.test"))
        #expect(try client.readHead().status == 101)
        try client.send(WebSocketRawClient.frame(opcode: 1, Array("again".utf8)))
        #expect(String(decoding: try client.readFrame().payload, as: UTF8.self) == "ws: again")

        // wss: the same over TLS, frames sent together with the upgrade request.
        let certificates = try TestCertificates()
        let certificate = try certificates.issue("a", dnsName: "a.test")
        var table = makeTable(routes: [("a.test", .prefix("/"), "ws")], clusters: ["ws": [backend.port]])
        table.tls = [tlsBinding("a.test", "default/a")]
        await proxy.plane.install(table, certificates: ["default/a": certificate.pair])
        let tlsPort = try await proxy.plane.bindTLS(host: "127.0.0.1", port: 0).port!
        let received = ByteCollector()
        let secure = try await TLSTestClient.connect(
            group: proxy.group, port: tlsPort, serverName: "a.test", trust: certificates.allCertificates
        ) { channel in
            try channel.pipeline.syncOperations.addHandler(received)
        }
        let request =
            WebSocketRawClient.upgradeRequest(path: "/ws", host: "a.test") + WebSocketRawClient.frame(opcode: 1, Array("secure".utf8))
        try await secure.channel.writeAndFlush(ByteBuffer(bytes: request)).get()
        let expected = Array("ws: secure".utf8)
        try await waitUntil { received.bytes.firstRange(of: expected) != nil }
        let text = String(decoding: received.bytes, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"))
        #expect(text.lowercased().contains("x-forwarded-proto") == false)
        await secure.close()
        await proxy.shutdown()
    }
}

/// Collects every byte a channel reads.
final class ByteCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    private let lock = NSLock()
    private var received: [UInt8] = []

    var bytes: [UInt8] { lock.withLock { received } }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        lock.withLock { received += buffer.readableBytesView }
    }
}
