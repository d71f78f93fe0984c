import DataPlane
import Foundation
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import RouteModel
import Testing

/// An HTTP/2 client connection (NIOHTTP2): each request is a new stream through the HTTP/1 client codec.
struct HTTP2TestClient {
    let channel: Channel
    let multiplexer: NIOHTTP2Handler.StreamMultiplexer
    let httpProtocol: HTTP2FramePayloadToHTTP1ClientCodec.HTTPProtocol

    /// Cleartext with prior knowledge: the client starts with the HTTP/2 preface.
    static func cleartext(group: EventLoopGroup, port: Int) async throws -> HTTP2TestClient {
        try await connect(group: group, port: port, tls: nil, serverName: nil)
    }

    /// TLS offering only `h2` by ALPN.
    static func secure(group: EventLoopGroup, port: Int, serverName: String, trust: [NIOSSLCertificate]) async throws -> HTTP2TestClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(trust)
        tls.applicationProtocols = ["h2"]
        return try await connect(group: group, port: port, tls: try NIOSSLContext(configuration: tls), serverName: serverName)
    }

    /// The HTTP/2 handler goes in with the channel, before any byte can arrive: the server's SETTINGS
    /// follow the TLS handshake at once and must not reach an unconfigured pipeline.
    private static func connect(group: EventLoopGroup, port: Int, tls: NIOSSLContext?, serverName: String?) async throws -> HTTP2TestClient
    {
        let (channel, multiplexer) = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                let pipeline = channel.pipeline.syncOperations
                if let tls { try pipeline.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverName)) }
                let multiplexer = try pipeline.configureHTTP2Pipeline(
                    mode: .client, connectionConfiguration: .init(), streamConfiguration: .init()
                ) { stream in
                    stream.eventLoop.makeSucceededVoidFuture()
                }
                return (channel, multiplexer)
            }
        }
        return HTTP2TestClient(channel: channel, multiplexer: multiplexer, httpProtocol: tls == nil ? .http : .https)
    }

    /// One request on a new stream.
    func request(_ method: HTTPMethod = .GET, _ path: String, host: String, body: String? = nil) async throws -> CollectedResponse {
        let promise = channel.eventLoop.makePromise(of: CollectedResponse.self)
        let httpProtocol = self.httpProtocol
        let stream: Channel
        do {
            stream = try await multiplexer.createStreamChannel { stream in
                stream.eventLoop.makeCompletedFuture {
                    try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: httpProtocol))
                    try stream.pipeline.syncOperations.addHandler(ResponseCollector(promise: promise))
                }
            }.get()
        } catch {
            promise.fail(error)
            throw error
        }
        var headers: HTTPHeaders = ["host": host]
        if let body { headers.add(name: "content-length", value: String(body.utf8.count)) }
        let head = HTTPRequestHead(version: .http2, method: method, uri: path, headers: headers)
        stream.write(HTTPClientRequestPart.head(head), promise: nil)
        if let body { stream.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(string: body))), promise: nil) }
        try await stream.writeAndFlush(HTTPClientRequestPart.end(nil)).get()
        return try await promise.futureResult.get()
    }

    func close() async { try? await channel.close() }
}

@Suite(.serialized)
struct HTTP2Tests {
    /// TLS with ALPN h2: requests on concurrent streams of one connection are proxied to HTTP/1.1 backends.
    @Test func http2OverTLS() async throws {
        let a = try BackendProcess(name: "a")
        let b = try BackendProcess(name: "b")
        let certificates = try TestCertificates()
        let ca = try certificates.issue("a", dnsName: "a.test")
        let proxy = try await ProxyFixture()
        let tlsPort = try await proxy.plane.bindTLS(host: "127.0.0.1", port: 0).port!
        var table = makeTable(
            routes: [("a.test", .prefix("/a"), "a"), ("a.test", .prefix("/b"), "b")], clusters: ["a": [a.port], "b": [b.port]])
        table.tls = [tlsBinding("a.test", "default/a")]
        await proxy.plane.install(table, certificates: ["default/a": ca.pair])

        let client = try await HTTP2TestClient.secure(
            group: proxy.group, port: tlsPort, serverName: "a.test", trust: certificates.allCertificates)
        let response = try await client.request(.GET, "/a/first?q=1", host: "a.test")
        #expect(response.head.status == .ok)
        #expect(response.head.headers.first(name: "x-backend-name") == "a")
        #expect(response.echo?["uri"] as? String == "/a/first?q=1")
        #expect(response.received("x-forwarded-proto") == "https")
        #expect(response.received("host") == "a.test")

        let responses = try await withThrowingTaskGroup(of: (Int, CollectedResponse).self) { group in
            for i in 0..<20 {
                group.addTask {
                    (i, try await client.request(.POST, (i % 2 == 0 ? "/a/" : "/b/") + "\(i)", host: "a.test", body: "body \(i)"))
                }
            }
            var out: [Int: CollectedResponse] = [:]
            for try await (i, r) in group { out[i] = r }
            return out
        }
        #expect(responses.count == 20)
        for (i, r) in responses {
            #expect(r.head.status == .ok)
            #expect(r.head.headers.first(name: "x-backend-name") == (i % 2 == 0 ? "a" : "b"))
            #expect(r.echo?["bodyBytes"] as? Int == "body \(i)".utf8.count)
        }
        #expect(try await client.request(.GET, "/nothing", host: "a.test").head.status == .notFound)
        await client.close()
        await proxy.shutdown()
    }

    /// Cleartext HTTP/2 with prior knowledge on the plain listener, next to HTTP/1.1 on the same port.
    @Test func h2cPriorKnowledge() async throws {
        let a = try BackendProcess(name: "a")
        let proxy = try await ProxyFixture()
        await proxy.plane.install(makeTable(routes: [("a.test", .prefix("/"), "a")], clusters: ["a": [a.port]]))

        let client = try await HTTP2TestClient.cleartext(group: proxy.group, port: proxy.port)
        var upstreamPorts: Set<String> = []
        for i in 0..<3 {
            let response = try await client.request(i == 1 ? .POST : .GET, "/h2c/\(i)", host: "a.test", body: i == 1 ? "posted" : nil)
            #expect(response.head.status == .ok)
            #expect(response.head.headers.first(name: "x-backend-name") == "a")
            #expect(response.received("x-forwarded-proto") == "http")
            #expect(response.echo?["uri"] as? String == "/h2c/\(i)")
            upstreamPorts.insert(response.echo?["remote"] as? String ?? "")
        }
        // Sequential streams reuse one pooled upstream connection (the stream's end must not drop it).
        #expect(upstreamPorts.count == 1)
        await client.close()

        // HTTP/1.1 on the same listener, including a method that starts like the preface.
        let http1 = try RawClient(port: proxy.port)
        #expect(try http1.get("/h1", host: "a.test").header("x-backend-name") == "a")
        try http1.send("PRI / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        #expect(try http1.readResponse().0.status != 0)
        await proxy.shutdown()
    }

    /// Connections are counted once each, whatever the protocol; all are released when closed.
    @Test func connectionAccounting() async throws {
        let a = try BackendProcess(name: "a")
        let proxy = try await ProxyFixture()
        await proxy.plane.install(makeTable(routes: [("a.test", .prefix("/"), "a")], clusters: ["a": [a.port]]))
        let h2 = try await HTTP2TestClient.cleartext(group: proxy.group, port: proxy.port)
        for i in 0..<4 { _ = try await h2.request(.GET, "/\(i)", host: "a.test") }
        let h1 = try RawClient(port: proxy.port)
        _ = try h1.get("/", host: "a.test")
        #expect(await proxy.plane.metrics().activeConnections == 2)
        await h2.close()
        try await waitUntil { await proxy.plane.metrics().activeConnections == 1 }
        await proxy.shutdown()
    }
}

extension HTTP2Tests {
    /// Connections that never send a request (plain, TLS without a handshake) and HTTP/2 connections
    /// without open streams are closed after the idle timeout.
    @Test func idleConnectionsAreClosed() async throws {
        let a = try BackendProcess(name: "a")
        var configuration = DataPlaneConfiguration()
        configuration.idleTimeout = .milliseconds(300)
        let proxy = try await ProxyFixture(configuration: configuration)
        let tlsPort = try await proxy.plane.bindTLS(host: "127.0.0.1", port: 0).port!
        await proxy.plane.install(makeTable(routes: [("a.test", .prefix("/"), "a")], clusters: ["a": [a.port]]))
        for port in [proxy.port, tlsPort] {
            let silent = try WebSocketRawClient(port: port)
            let start = Date()
            #expect(try silent.readsEOF(), "port \(port)")
            #expect(Date().timeIntervalSince(start) < 5)
        }
        let h2 = try await HTTP2TestClient.cleartext(group: proxy.group, port: proxy.port)
        #expect(try await h2.request(.GET, "/", host: "a.test").head.status == .ok)
        try await waitUntil { !h2.channel.isActive }
        try await waitUntil { await proxy.plane.metrics().activeConnections == 0 }
        await proxy.shutdown()
    }
}

/// Polls `condition` every 10 ms for up to `seconds`.
func waitUntil(seconds: Double = 10, _ condition: () async throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return }
        try await Task.sleep(nanoseconds: 10_000_000)
    }
    throw TestFailure("condition not met within \(seconds) s")
}
