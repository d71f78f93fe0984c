import DataPlane
import Foundation
import NIOCore
import RouteModel
import Testing

/// End to end: real backend processes behind a real data plane on loopback.
@Suite(.serialized)
struct ProxyTests {
    @Test func routesByHostAndPathAndAnswers404() async throws {
        let a = try BackendProcess(name: "a")
        let b = try BackendProcess(name: "b")
        let proxy = try await ProxyFixture()
        await proxy.plane.install(
            makeTable(
                routes: [
                    ("a.test", .prefix("/"), "a"), ("b.test", .exact("/x"), "b"), ("*.wild.test", .prefix("/"), "b"),
                ],
                clusters: ["a": [a.port], "b": [b.port]]))
        let client = try RawClient(port: proxy.port)
        #expect(try client.get("/anything", host: "a.test").header("x-backend-name") == "a")
        #expect(try client.get("/x", host: "B.TEST:8080").header("x-backend-name") == "b")
        #expect(try client.get("/x/y", host: "b.test").status == 404)
        #expect(try client.get("/", host: "one.wild.test").header("x-backend-name") == "b")
        #expect(try client.get("/", host: "two.one.wild.test").status == 404)
        #expect(try client.get("/", host: "unknown.test").status == 404)
        await proxy.shutdown()
    }

    @Test func forwardedHeadersAndHopByHop() async throws {
        let a = try BackendProcess(name: "a")
        let proxy = try await ProxyFixture()
        await proxy.plane.install(makeTable(routes: [("a.test", .prefix("/"), "a")], clusters: ["a": [a.port]]))
        let client = try RawClient(port: proxy.port)
        let response = try client.get(
            "/p?q=1", host: "a.test",
            headers: ["Connection: keep-alive, X-Secret", "X-Secret: 1", "Keep-Alive: timeout=5", "X-Request-Id: abc", "TE: trailers"])
        let echo = try #require(response.echo)
        let headers = (echo["headers"] as? [[String]] ?? []).map { ($0[0].lowercased(), $0[1]) }
        func value(_ n: String) -> String? { headers.first { $0.0 == n }?.1 }
        #expect(echo["uri"] as? String == "/p?q=1")
        #expect(value("host") == "a.test")
        #expect(value("x-forwarded-for") == "127.0.0.1")
        #expect(value("x-forwarded-proto") == "http")
        #expect(value("x-forwarded-host") == "a.test")
        #expect(value("x-request-id") == "abc")
        #expect(value("x-secret") == nil)
        #expect(value("keep-alive") == nil)
        #expect(value("te") == nil)
        await proxy.shutdown()
    }

    @Test func upstreamFailuresMapToStatuses() async throws {
        let a = try BackendProcess(name: "a")
        var configuration = DataPlaneConfiguration()
        configuration.readTimeout = .milliseconds(300)
        let proxy = try await ProxyFixture(configuration: configuration)
        let dead = try deadPort()
        await proxy.plane.install(
            makeTable(
                routes: [
                    ("t", .prefix("/none"), "empty"), ("t", .prefix("/dead"), "dead"), ("t", .prefix("/hang"), "a"),
                    ("t", .prefix("/mixed"), "mixed"),
                ],
                clusters: ["empty": [], "dead": [dead], "a": [a.port], "mixed": [dead, a.port]]))
        let client = try RawClient(port: proxy.port)
        #expect(try client.get("/none", host: "t").status == 503)
        #expect(try client.get("/dead", host: "t").status == 502)
        #expect(try client.get("/hang", host: "t").status == 504)
        // One endpoint refuses connections: every request is retried on the other one.
        for _ in 0..<6 {
            let r = try RawClient(port: proxy.port).get("/mixed", host: "t")
            #expect(r.status == 200)
            #expect(r.header("x-backend-name") == "a")
        }
        await proxy.shutdown()
    }

    @Test func limitsAndMalformedRequests() async throws {
        let a = try BackendProcess(name: "a")
        var configuration = DataPlaneConfiguration()
        configuration.maxRequestLineBytes = 1024
        configuration.maxHeaderCount = 20
        configuration.maxHeaderBytes = 4096
        let proxy = try await ProxyFixture(configuration: configuration)
        await proxy.plane.install(makeTable(routes: [("t", .prefix("/"), "a")], clusters: ["a": [a.port]]))
        #expect(try RawClient(port: proxy.port).get("/" + String(repeating: "x", count: 2000), host: "t").status == 414)
        #expect(try RawClient(port: proxy.port).get("/", host: "t", headers: (0..<30).map { "X-H\($0): v" }).status == 431)
        #expect(
            try RawClient(port: proxy.port).get("/", host: "t", headers: ["X-Big: " + String(repeating: "y", count: 5000)]).status == 431)
        let ambiguous = try RawClient(port: proxy.port)
        try ambiguous.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        #expect(try ambiguous.readResponse().0.status == 400)
        let garbage = try RawClient(port: proxy.port)
        try garbage.send("NOT HTTP AT ALL\r\n\r\n")
        #expect(try garbage.readResponse().0.status == 400)
        await proxy.shutdown()
    }

    @Test func keepAliveReusesOneUpstreamConnection() async throws {
        let a = try BackendProcess(name: "a")
        let proxy = try await ProxyFixture()
        await proxy.plane.install(makeTable(routes: [("t", .prefix("/"), "a")], clusters: ["a": [a.port]]))
        let client = try RawClient(port: proxy.port)
        var remotes: Set<String> = []
        for _ in 0..<20 {
            let r = try client.get("/", host: "t")
            #expect(r.status == 200)
            if let remote = r.echo?["remote"] as? String { remotes.insert(remote) }
        }
        #expect(remotes.count == 1, "upstream connections used: \(remotes)")
        await proxy.shutdown()
    }

    @Test func largeBodiesStreamBothWaysInBoundedMemory() async throws {
        let a = try BackendProcess(name: "a")
        let proxy = try await ProxyFixture()
        await proxy.plane.install(makeTable(routes: [("t", .prefix("/"), "a")], clusters: ["a": [a.port]]))
        let before = residentBytes()
        // 48 MiB upload, chunked (docs/performance.md shows 1 GiB through a release build).
        let client = try RawClient(port: proxy.port)
        try client.send("POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        let chunk = [UInt8](repeating: 0x61, count: 1 << 20)
        let framed = Array("100000\r\n".utf8) + chunk + Array("\r\n".utf8)
        for _ in 0..<48 { try client.send(framed) }
        try client.send("0\r\n\r\n")
        let (upload, _) = try client.readResponse()
        #expect(upload.status == 200)
        #expect((upload.echo?["bodyBytes"] as? Int) == 48 << 20)
        // 48 MiB download, chunked by the backend.
        try client.send("GET /stream/49152 HTTP/1.1\r\nHost: t\r\n\r\n")
        let (download, bytes) = try client.readResponse(countOnly: true)
        #expect(download.status == 200)
        #expect(bytes == 48 << 20)
        let grown = residentBytes() - before
        #expect(grown < 24 << 20, "resident memory grew by \(grown >> 20) MiB while streaming 96 MiB")
        await proxy.shutdown()
    }
}

/// HTTP/1.x details of the byte-level path, end to end.
@Suite(.serialized)
struct HTTP1BehaviourTests {
    /// Pipelined requests in one write get their responses in order.
    @Test func pipelinedRequestsAnsweredInOrder() async throws {
        let a = try BackendProcess(name: "a")
        let proxy = try await ProxyFixture()
        await proxy.plane.install(makeTable(routes: [("t", .prefix("/"), "a")], clusters: ["a": [a.port]]))
        let client = try RawClient(port: proxy.port)
        try client.send(
            "GET /one HTTP/1.1\r\nHost: t\r\n\r\nGET /missing HTTP/1.1\r\nHost: nowhere\r\n\r\n"
                + "POST /three HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabcGET /four HTTP/1.1\r\nHost: t\r\n\r\n")
        let uris = try (0..<4).map { _ in try client.readResponse().0 }.map { ($0.status, $0.echo?["uri"] as? String) }
        #expect(uris.map(\.0) == [200, 404, 200, 200])
        #expect(uris.map(\.1) == ["/one", nil, "/three", "/four"])
        await proxy.shutdown()
    }

    /// An HTTP/1.0 client gets a chunked upstream body without the coding, ended by the close;
    /// HEAD gets the head only; a body answered locally is drained and the connection reused.
    @Test func versionsHeadAndDrainedBodies() async throws {
        let a = try BackendProcess(name: "a")
        let proxy = try await ProxyFixture()
        await proxy.plane.install(makeTable(routes: [("t", .prefix("/"), "a")], clusters: ["a": [a.port]]))
        let old = try RawClient(port: proxy.port)
        try old.send("GET /stream/3 HTTP/1.0\r\nHost: t\r\n\r\n")
        let (response, bytes) = try old.readResponse()
        #expect(response.status == 200)
        #expect(response.header("transfer-encoding") == nil)
        #expect(response.header("connection") == "close")
        #expect(bytes == 3 * 1024)

        let client = try RawClient(port: proxy.port)
        try client.send("HEAD /x HTTP/1.1\r\nHost: t\r\n\r\n")
        let head = try client.readResponse(head: true).0
        #expect(head.status == 200)
        try client.send("POST /x HTTP/1.1\r\nHost: nowhere\r\nContent-Length: 5\r\n\r\nhello")
        #expect(try client.readResponse().0.status == 404)
        #expect(try client.get("/after", host: "t").echo?["uri"] as? String == "/after")
        await proxy.shutdown()
    }

    /// A backend that closes its connection after a response: the client's keep-alive connection
    /// stays usable, and the next request goes over a fresh upstream connection.
    @Test func backendClosingAfterAResponse() async throws {
        let a = try BackendProcess(name: "a")
        let proxy = try await ProxyFixture()
        await proxy.plane.install(makeTable(routes: [("t", .prefix("/"), "a")], clusters: ["a": [a.port]]))
        let client = try RawClient(port: proxy.port)
        let closing = try client.get("/close", host: "t")
        #expect(closing.status == 200)
        #expect(closing.header("connection") == nil)
        let next = try client.get("/after", host: "t")
        #expect(next.status == 200)
        #expect(next.echo?["remote"] as? String != closing.echo?["remote"] as? String)
        await proxy.shutdown()
    }
}
