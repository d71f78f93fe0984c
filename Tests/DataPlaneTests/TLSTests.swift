import DataPlane
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import RouteModel
import Testing

/// Self-signed certificates made with `openssl` in a temporary directory (tests only: the gateway
/// itself never runs a process).
final class TestCertificates {
    struct Issued {
        let pair: TLSCertificatePair
        let certificate: NIOSSLCertificate
    }

    let directory: String
    private(set) var issued: [String: Issued] = [:]

    init() throws {
        directory = NSTemporaryDirectory() + "gitway-tls-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// An EC P-256 certificate for `dnsName` (which may be a wildcard), remembered under `name`.
    @discardableResult
    func issue(_ name: String, dnsName: String) throws -> Issued {
        let key = directory + "/\(name).key"
        let crt = directory + "/\(name).crt"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", crt,
            "-days", "2", "-subj", "/CN=\(dnsName)", "-addext", "subjectAltName=DNS:\(dnsName)",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestFailure("openssl failed for \(dnsName)") }
        let chainPEM = Array(try Data(contentsOf: URL(fileURLWithPath: crt)))
        let keyPEM = Array(try Data(contentsOf: URL(fileURLWithPath: key)))
        let result = Issued(
            pair: TLSCertificatePair(chainPEM: chainPEM, keyPEM: keyPEM), certificate: try NIOSSLCertificate(bytes: chainPEM, format: .pem))
        issued[name] = result
        return result
    }

    var allCertificates: [NIOSSLCertificate] { issued.values.map(\.certificate) }
}

/// A TLS binding in a test table.
func tlsBinding(_ host: String, _ secret: String) -> TLSBinding {
    TLSBinding(
        host: host, secret: secret,
        source: RouteSource(object: "Ingress/default/tls", location: SourceLocation(file: "tls.yaml", line: 1, column: 1)))
}

/// One HTTP/1.1 response as a client collects it.
struct CollectedResponse: Sendable {
    var head: HTTPResponseHead
    var body: ByteBuffer
    var text: String { String(buffer: body) }
    var echo: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] }
    /// A header the echo backend received.
    func received(_ name: String) -> String? {
        let headers = (echo?["headers"] as? [[String]]) ?? []
        return headers.first { $0[0].lowercased() == name }?[1]
    }
}

/// Collects one response (HTTP/1.1 client codec, or HTTP/2 stream through the HTTP/1 client codec).
final class ResponseCollector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let promise: EventLoopPromise<CollectedResponse>
    private var head: HTTPResponseHead?
    private var body = ByteBuffer()

    /// Whether being added to an inactive channel means the response can never come (a connection,
    /// as opposed to an HTTP/2 stream, which becomes active only after its initializer).
    private let requiresActive: Bool

    init(promise: EventLoopPromise<CollectedResponse>, requiresActive: Bool = false) {
        self.promise = promise
        self.requiresActive = requiresActive
    }

    func handlerAdded(context: ChannelHandlerContext) {
        // Added to a connection the server has already closed (a refused handshake): nothing will come.
        if requiresActive && !context.channel.isActive { promise.fail(TestFailure("connection already closed")) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body(var b): body.writeBuffer(&b)
        case .end:
            // Out of the way of the next response on a keep-alive connection.
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            if let head { promise.succeed(CollectedResponse(head: head, body: body)) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(TestFailure("connection closed before a complete response"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}

/// An HTTPS client connection (NIOSSL) to the proxy: SNI, trust roots and ALPN of the test's choosing.
struct TLSTestClient {
    let channel: Channel

    static func connect(
        group: EventLoopGroup, port: Int, serverName: String?, trust: [NIOSSLCertificate], verifyHostname: Bool = true,
        alpn: [String] = ["http/1.1"],
        configure: @escaping @Sendable (Channel) throws -> Void = { channel in
            try channel.pipeline.syncOperations.addHTTPClientHandlers()
        }
    ) async throws -> TLSTestClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(trust)
        tls.certificateVerification = verifyHostname ? .fullVerification : .none
        tls.applicationProtocols = alpn
        let context = try NIOSSLContext(configuration: tls)
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverName))
                    try configure(channel)
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        return TLSTestClient(channel: channel)
    }

    /// Sends one HTTP/1.1 GET and waits for its response.
    func get(_ path: String, host: String) async throws -> CollectedResponse {
        let channel = self.channel
        let promise = channel.eventLoop.makePromise(of: CollectedResponse.self)
        do {
            try await channel.eventLoop.submit {
                try channel.pipeline.syncOperations.addHandler(ResponseCollector(promise: promise, requiresActive: true))
                let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: ["host": host])
                channel.write(HTTPClientRequestPart.head(head), promise: nil)
                channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            }.get()
        } catch {
            promise.fail(error)  // the handshake already failed and closed the channel
            throw error
        }
        return try await promise.futureResult.get()
    }

    /// The certificate the server presented.
    func peerCertificate() async throws -> NIOSSLCertificate? {
        let channel = self.channel
        return try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self).peerCertificate
        }.get()
    }

    func close() async { try? await channel.close() }
}

@Suite(.serialized)
struct TLSTests {
    /// Exact host, one-label wildcard and the `*` binding each get their own certificate; an unknown
    /// name without a `*` binding fails the handshake.
    @Test func certificateChosenBySNI() async throws {
        let backend = try BackendProcess(name: "a")
        let certificates = try TestCertificates()
        let a = try certificates.issue("a", dnsName: "a.test")
        let b = try certificates.issue("b", dnsName: "b.test")
        let wild = try certificates.issue("wild", dnsName: "*.wild.test")
        let proxy = try await ProxyFixture()
        let tlsPort = try await proxy.plane.bindTLS(host: "127.0.0.1", port: 0).port!
        var table = makeTable(
            routes: [("a.test", .prefix("/"), "a"), ("b.test", .prefix("/"), "a"), ("*.wild.test", .prefix("/"), "a")],
            clusters: ["a": [backend.port]])
        table.tls = [tlsBinding("a.test", "default/a"), tlsBinding("b.test", "default/b"), tlsBinding("*.wild.test", "default/wild")]
        let report = await proxy.plane.install(
            table, certificates: ["default/a": a.pair, "default/b": b.pair, "default/wild": wild.pair])
        #expect(report.warnings.isEmpty)

        let trust = certificates.allCertificates
        for (name, expected) in [("a.test", a), ("B.Test", b), ("x.wild.test", wild)] {
            let client = try await TLSTestClient.connect(group: proxy.group, port: tlsPort, serverName: name, trust: trust)
            let response = try await client.get("/", host: name)
            #expect(response.head.status == .ok)
            #expect(try await client.peerCertificate() == expected.certificate, "SNI \(name)")
            await client.close()
        }

        // Two labels below the wildcard, and an unknown name: no certificate, the handshake fails.
        for name in ["a.b.wild.test", "unknown.test"] {
            await #expect(throws: (any Error).self, "SNI \(name)") {
                let client = try await TLSTestClient.connect(
                    group: proxy.group, port: tlsPort, serverName: name, trust: trust, verifyHostname: false)
                _ = try await client.get("/", host: name)
            }
        }

        // A TLS section without hosts (`*`) serves every other name, and clients without SNI.
        let fallback = try certificates.issue("fallback", dnsName: "fallback.test")
        table.tls.append(tlsBinding("*", "default/fallback"))
        await proxy.plane.install(
            table, certificates: ["default/a": a.pair, "default/b": b.pair, "default/wild": wild.pair, "default/fallback": fallback.pair])
        for name in ["unknown.test", nil] as [String?] {
            let client = try await TLSTestClient.connect(
                group: proxy.group, port: tlsPort, serverName: name, trust: certificates.allCertificates, verifyHostname: false)
            _ = try await client.get("/", host: "a.test")
            #expect(try await client.peerCertificate() == fallback.certificate)
            await client.close()
        }
        await proxy.shutdown()
    }

    /// HTTPS requests reach the backend with `X-Forwarded-Proto: https`.
    /// `--default-certificate` answers server names no TLS host of the revision matches (and
    /// clients without SNI); matching names still get their own certificate.
    @Test func defaultCertificateServesUnmatchedNames() async throws {
        let backend = try BackendProcess(name: "a")
        let certificates = try TestCertificates()
        let a = try certificates.issue("a", dnsName: "a.test")
        let fallback = try certificates.issue("default", dnsName: "default.test")
        var configuration = DataPlaneConfiguration()
        configuration.defaultCertificate = fallback.pair
        let proxy = try await ProxyFixture(configuration: configuration)
        let tlsPort = try await proxy.plane.bindTLS(host: "127.0.0.1", port: 0).port!
        var table = makeTable(routes: [("a.test", .prefix("/"), "a")], clusters: ["a": [backend.port]])
        table.tls = [tlsBinding("a.test", "default/a")]
        await proxy.plane.install(table, certificates: ["default/a": a.pair])
        for (name, expected) in [("a.test", a), ("unknown.test", fallback), (nil, fallback)] as [(String?, TestCertificates.Issued)] {
            let client = try await TLSTestClient.connect(
                group: proxy.group, port: tlsPort, serverName: name, trust: certificates.allCertificates, verifyHostname: false)
            #expect(try await client.get("/", host: "a.test").head.status == .ok)
            #expect(try await client.peerCertificate() == expected.certificate, "SNI \(name ?? "(none)")")
            await client.close()
        }
        await proxy.shutdown()
    }

    @Test func proxiesOverTLS() async throws {
        let a = try BackendProcess(name: "a")
        let b = try BackendProcess(name: "b")
        let certificates = try TestCertificates()
        let ca = try certificates.issue("a", dnsName: "a.test")
        let cb = try certificates.issue("b", dnsName: "b.test")
        let proxy = try await ProxyFixture()
        let tlsPort = try await proxy.plane.bindTLS(host: "127.0.0.1", port: 0).port!
        var table = makeTable(
            routes: [("a.test", .prefix("/"), "a"), ("b.test", .prefix("/"), "b")], clusters: ["a": [a.port], "b": [b.port]])
        table.tls = [tlsBinding("a.test", "default/a"), tlsBinding("b.test", "default/b")]
        await proxy.plane.install(table, certificates: ["default/a": ca.pair, "default/b": cb.pair])

        for (host, backend) in [("a.test", "a"), ("b.test", "b")] {
            let client = try await TLSTestClient.connect(
                group: proxy.group, port: tlsPort, serverName: host, trust: certificates.allCertificates)
            for path in ["/one", "/two?x=1"] {  // keep-alive: two requests on one connection
                let response = try await client.get(path, host: host)
                #expect(response.head.headers.first(name: "x-backend-name") == backend)
                #expect(response.echo?["uri"] as? String == path)
                #expect(response.received("x-forwarded-proto") == "https")
            }
            await client.close()
        }
        await proxy.shutdown()
    }

    /// A Secret that does not parse, or that is missing, is a warning; the other hosts keep theirs.
    @Test func unusableSecretsAreWarnings() async throws {
        let backend = try BackendProcess(name: "a")
        let certificates = try TestCertificates()
        let a = try certificates.issue("a", dnsName: "a.test")
        let other = try certificates.issue("other", dnsName: "other.test")
        let proxy = try await ProxyFixture()
        let tlsPort = try await proxy.plane.bindTLS(host: "127.0.0.1", port: 0).port!
        var table = makeTable(routes: [("a.test", .prefix("/"), "a")], clusters: ["a": [backend.port]])
        table.tls = [
            tlsBinding("a.test", "default/a"), tlsBinding("bad.test", "default/bad"), tlsBinding("mismatch.test", "default/mismatch"),
            tlsBinding("gone.test", "default/gone"),
        ]
        let report = await proxy.plane.install(
            table,
            certificates: [
                "default/a": a.pair,
                "default/bad": TLSCertificatePair(chainPEM: Array("not a certificate".utf8), keyPEM: Array("nor a key".utf8)),
                // The key of another certificate.
                "default/mismatch": TLSCertificatePair(chainPEM: a.pair.chainPEM, keyPEM: other.pair.keyPEM),
            ])
        #expect(report.warnings.count == 3)
        #expect(report.warnings.contains { $0.contains("default/bad") })
        #expect(report.warnings.contains { $0.contains("default/mismatch") })
        #expect(report.warnings.contains { $0.contains("default/gone") })

        let client = try await TLSTestClient.connect(
            group: proxy.group, port: tlsPort, serverName: "a.test", trust: certificates.allCertificates)
        #expect(try await client.get("/", host: "a.test").head.status == .ok)
        await client.close()
        await #expect(throws: (any Error).self) {
            let client = try await TLSTestClient.connect(
                group: proxy.group, port: tlsPort, serverName: "bad.test", trust: certificates.allCertificates, verifyHostname: false)
            _ = try await client.get("/", host: "a.test")
        }
        await proxy.shutdown()
    }

    /// A rollback to the previous snapshot brings its certificates back with it.
    @Test func certificatesFollowTheServedRevision() async throws {
        let backend = try BackendProcess(name: "a")
        let certificates = try TestCertificates()
        let first = try certificates.issue("first", dnsName: "a.test")
        let second = try certificates.issue("second", dnsName: "a.test")
        let proxy = try await ProxyFixture()
        let tlsPort = try await proxy.plane.bindTLS(host: "127.0.0.1", port: 0).port!
        var table = makeTable(routes: [("a.test", .prefix("/"), "a")], clusters: ["a": [backend.port]])
        table.tls = [tlsBinding("a.test", "default/a")]
        await proxy.plane.install(table, certificates: ["default/a": first.pair])
        table.revision = "second"
        await proxy.plane.install(table, certificates: ["default/a": second.pair])

        func served() async throws -> NIOSSLCertificate? {
            let client = try await TLSTestClient.connect(
                group: proxy.group, port: tlsPort, serverName: "a.test", trust: certificates.allCertificates)
            _ = try await client.get("/", host: "a.test")
            let certificate = try await client.peerCertificate()
            await client.close()
            return certificate
        }
        #expect(try await served() == second.certificate)
        #expect(proxy.plane.store.restorePrevious())
        #expect(try await served() == first.certificate)
        await proxy.shutdown()
    }
}
