import Agent
import DataPlane
import Foundation
import GitSource
import Logging
import NIOPosix
import Pipeline
import Testing

#if canImport(Glibc)
    import Glibc
#endif

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A fresh directory under the system temp directory, removed on deinit.
final class TemporaryDirectory: @unchecked Sendable {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "gitway-agent-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Manifests of a small routing repository: one Ingress, its Service and endpoints, a Secret whose value must
/// never leave the agent, and route tests.
enum Routing {
    static func ingress(backend: String = "web", path: String = "/") -> String {
        """
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: shop, namespace: shop}
        spec:
          rules:
            - host: shop.example.com
              http:
                paths:
                  - {path: \(path), pathType: Prefix, backend: {service: {name: \(backend), port: {number: 80}}}}

        """
    }

    static let services = """
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: shop}
        spec: {ports: [{port: 80}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: api, namespace: shop}
        spec: {ports: [{port: 80}]}
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: creds, namespace: shop}
        stringData: {password: topsecret-value-42}

        """

    static let rootGoesToWeb = """
        tests:
          - name: root goes to web
            request: {host: shop.example.com, path: /}
            expect: {backend: web}

        """

    static func files(backend: String = "web", path: String = "/", tests: String = rootGoesToWeb) -> [String: [UInt8]] {
        [
            "routes/ingress.yaml": Array(ingress(backend: backend, path: path).utf8),
            "routes/services.yaml": Array(services.utf8),
            "routes/shop.routetest.yaml": Array(tests.utf8),
        ]
    }
}

/// A real agent on loopback ports 0 following a real libgit2 repository (`origin`), through a `file://` URL so every
/// sync fetches into the agent's cache as it would from a Git host.
final class AgentHarness: @unchecked Sendable {
    let origin: GitRepository
    let originDirectory: TemporaryDirectory
    let state: TemporaryDirectory
    let agent: GatewayAgent
    let group: MultiThreadedEventLoopGroup
    private var task: Task<Void, Error>?
    var firstCommit: String

    static let secret = "It's a Secret to Everybody"

    init(
        secret: String? = AgentHarness.secret, poll: Double = 3600, remote: Bool = true, pushNotes: Bool = false,
        files: [String: [UInt8]] = Routing.files(), configure: (inout ServeConfiguration) -> Void = { _ in }
    )
        async throws
    {
        originDirectory = try TemporaryDirectory()
        state = try TemporaryDirectory()
        origin = try GitRepository.create(at: originDirectory.path, bare: true)
        firstCommit = try origin.commit(files: files, message: "first routes\n")
        var options = RepositoryOptions(repository: remote ? "file://" + originDirectory.path : originDirectory.path)
        options.stateDirectory = state.path
        var configuration = ServeConfiguration(repository: options, threads: 1)
        configuration.listenPort = 0
        configuration.adminPort = 0
        configuration.pollSeconds = poll
        configuration.shutdownGraceSeconds = 0.2
        configuration.webhookSecret = secret.map(WebhookSecret.init)
        configuration.webhookMaxBodyBytes = 64 * 1024
        configuration.pushNotes = pushNotes
        configure(&configuration)
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var logger = Logger(label: "agent-test")
        logger.logLevel = .critical
        agent = GatewayAgent(configuration: configuration, group: group, logger: logger, accessLog: AccessLogSink { _ in })
        let agent = self.agent
        task = Task { try await agent.run() }
        try await waitFor("the first attempt to be recorded") { agent.status.lastAttempt?.revision == self.firstCommit }
    }

    func stop() async {
        task?.cancel()
        _ = try? await task?.value
        try? await group.shutdownGracefully()
    }

    var adminPort: Int { agent.adminAddress?.port ?? 0 }

    /// Waits, polling every 10 ms, until `condition` holds; fails after `timeout`.
    func waitFor(_ what: String, timeout: Double = 20, _ condition: () -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition() {
            guard Date() < deadline else { throw TestFailure("timed out waiting for \(what)") }
            try await Task.sleep(nanoseconds: 10_000_000)
        }
    }

    /// Waits until no sync has started for `quiet` seconds.
    func waitUntilIdle(quiet: Double = 0.4) async throws {
        var last = agent.counters.attempts
        var stableSince = Date()
        while Date().timeIntervalSince(stableSince) < quiet {
            try await Task.sleep(nanoseconds: 20_000_000)
            let now = agent.counters.attempts
            if now != last {
                last = now
                stableSince = Date()
            }
        }
    }

    func request(_ method: String, _ path: String, headers: [String: String] = [:], body: [UInt8] = []) async throws -> HTTPResult {
        try await HTTPResult.sendOffPool(port: adminPort, method: method, path: path, headers: headers, body: body)
    }

    /// The ledger's records, oldest first.
    func ledger() throws -> [AttemptRecord] { try Ledger(stateDirectory: state.path).read().records }

    /// The agent's cache of `origin`, where notes are written.
    func cache() throws -> GitRepository {
        try GitSource(repository: "file://" + originDirectory.path, stateDirectory: state.path).open()
    }
}

/// A blocking HTTP/1.1 exchange over a loopback socket (one request per connection).
struct HTTPResult {
    var status: Int
    var body: String

    /// `send` on a thread of its own: a blocking socket call on the (small) cooperative pool could starve the agent's
    /// own tasks, which answer the request.
    static func sendOffPool(port: Int, method: String, path: String, headers: [String: String], body: [UInt8]) async throws
        -> HTTPResult
    {
        try await withCheckedThrowingContinuation { continuation in
            // A thread of its own: Dispatch's global queues share their (CPU-sized) worker limit with the cooperative pool.
            Thread {
                continuation.resume(with: Result { try send(port: port, method: method, path: path, headers: headers, body: body) })
            }.start()
        }
    }

    static func send(port: Int, method: String, path: String, headers: [String: String], body: [UInt8]) throws -> HTTPResult {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw TestFailure("cannot connect to 127.0.0.1:\(port)") }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: \(body.count)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        let bytes = Array((head + "\r\n").utf8) + body
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }  // the server may answer and close before reading an oversized body
            sent += n
        }
        var response: [UInt8] = []
        var lastError = "closed"
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { lastError = String(cString: strerror(errno)) }
            if n <= 0 { break }
            response += buffer[0..<n]
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let statusLine = text.split(separator: "\r\n").first, let code = Int(statusLine.split(separator: " ").dropFirst().first ?? "")
        else { throw TestFailure("no HTTP response (\(lastError), sent \(sent) of \(bytes.count)): \(text.prefix(200))") }
        let bodyText = text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
        return HTTPResult(status: code, body: bodyText)
    }
}

/// Signed deliveries per provider, the way each host builds them.
enum Delivery {
    static func pushBody(ref: String) -> [UInt8] {
        Array(
            #"{"ref":"\#(ref)","before":"0000000000000000000000000000000000000000","after":"1111111111111111111111111111111111111111","repository":{"full_name":"ops/routing"}}"#
                .utf8)
    }

    static func sign(_ body: [UInt8], secret: String) -> String {
        HMAC.sha256Hex(key: Array(secret.utf8), message: body)
    }

    /// Headers a provider sends for `body`: `secret` nil = unsigned, `wrong` = signed with another secret.
    static func headers(_ provider: WebhookProvider, body: [UInt8], secret: String?, event: String? = nil) -> [String: String] {
        var headers = ["Content-Type": "application/json"]
        switch provider {
        case .github:
            headers["X-GitHub-Event"] = event ?? "push"
            headers["X-GitHub-Delivery"] = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
            if let secret { headers["X-Hub-Signature-256"] = "sha256=" + sign(body, secret: secret) }
        case .gitlab:
            headers["X-Gitlab-Event"] = event ?? "Push Hook"
            if let secret { headers["X-Gitlab-Token"] = secret }
        case .gitea:
            headers["X-Gitea-Event"] = event ?? "push"
            headers["X-Gitea-Delivery"] = "gitea-delivery-1"
            if let secret { headers["X-Gitea-Signature"] = sign(body, secret: secret) }
        case .generic:
            if let secret { headers["X-Signature"] = "sha256=" + sign(body, secret: secret) }
        }
        return headers
    }
}
