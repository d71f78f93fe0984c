import Agent
import ArgumentParser
import DataPlane
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Follow a branch and serve its routes from the embedded gateway.",
        discussion: """
            The first sync happens at start, then on every poll tick (--poll ± 10 %), on `POST /sync`
            to the admin address and on push webhooks (`POST /hooks/github|gitlab|gitea|generic`,
            signed with --webhook-secret-file). A commit that does not validate or whose route tests
            fail is refused with its diagnostics (see `GET /revision`) and the previous revision keeps
            serving. A valid commit is applied as one transaction (objects into the store under
            --state-dir, then the gateway swap, then verification); any failure rolls both back, and a
            commit that fails verification is not retried until a newer one arrives. A commit that
            would remove every object is refused unless --allow-empty is given. Every attempt is
            recorded in <state-dir>/ledger.jsonl (`gitway history`) and as a note on its commit
            (`git log --notes=gitway` in the cache). SIGTERM or SIGINT stops
            accepting, lets in-flight requests finish (up to --grace), then exits.

            The --listen address speaks HTTP/1.1 and cleartext HTTP/2 (prior knowledge). The
            --listen-tls address speaks HTTPS with HTTP/2 or HTTP/1.1 by ALPN; the certificate is
            chosen by SNI from the kubernetes.io/tls Secrets the live revision's Ingress TLS sections
            name (exact host, then *.wildcard, then a TLS section without hosts, then
            --default-certificate); without a default, a server name that matches none fails the handshake.
            WebSocket (any Upgrade) passes through to the backend.

            Examples:
              gitway serve --repo . --listen 127.0.0.1:8080
              gitway serve --repo . --listen 127.0.0.1:8080 --listen-tls 127.0.0.1:8443
              gitway serve --repo https://git.example.com/ops/routing.git --state-dir /var/lib/gitway --poll 10s
              gitway serve --repo https://git.example.com/ops/routing.git --state-dir /var/lib/gitway \\
                --poll 5m --webhook-secret-file /etc/gitway/webhook-secret
              curl -s 127.0.0.1:9180/revision
            """
    )

    @OptionGroup var repository: RepositoryArguments

    @Option(help: ArgumentHelp("Address the gateway listens on.", valueName: "host:port"))
    var listen = "127.0.0.1:8080"

    @Option(
        name: .customLong("listen-tls"),
        help: ArgumentHelp("Address for HTTPS (TLS, SNI from the revision's Secrets).", valueName: "host:port"))
    var listenTLS: String?

    @Option(help: ArgumentHelp("Address of the admin API (revision, health, routes, metrics, sync).", valueName: "host:port"))
    var admin = "127.0.0.1:9180"

    @Option(help: ArgumentHelp("How often to fetch the branch: 30s, 5m, 1h.", valueName: "duration"))
    var poll = "30s"

    @Option(help: ArgumentHelp("Event-loop threads (default: one per core).", valueName: "n"))
    var threads: Int = System.coreCount

    @Option(name: .customLong("access-log"), help: "Access log format: text, json or off.")
    var accessLog: String = "text"

    @Option(name: .customLong("connect-timeout"), help: ArgumentHelp("Upstream connect timeout.", valueName: "duration"))
    var connectTimeout = "5s"

    @Option(name: .customLong("read-timeout"), help: ArgumentHelp("Upstream read timeout (504 after it).", valueName: "duration"))
    var readTimeout = "60s"

    @Option(name: .customLong("idle-timeout"), help: ArgumentHelp("Client keep-alive idle timeout.", valueName: "duration"))
    var idleTimeout = "75s"

    @Option(help: ArgumentHelp("Time in-flight requests get to finish on shutdown.", valueName: "duration"))
    var grace = "10s"

    @Option(
        name: .customLong("default-certificate"),
        help: ArgumentHelp("PEM certificate chain for TLS clients whose server name matches no TLS host.", valueName: "file"))
    var defaultCertificate: String?

    @Option(name: .customLong("default-key"), help: ArgumentHelp("PEM private key of --default-certificate.", valueName: "file"))
    var defaultKey: String?

    @Option(
        name: .customLong("webhook-secret-file"),
        help: ArgumentHelp("File holding the webhook secret; unsigned or badly signed deliveries get 401.", valueName: "file"))
    var webhookSecretFile: String?

    @Flag(name: .customLong("push-notes"), help: "Push refs/notes/gitway (the attempt notes) to the remote.")
    var pushNotes = false

    @Flag(
        name: .customLong("allow-empty"),
        help: "Apply a commit that removes every live object (otherwise such a plan is refused).")
    var allowEmpty = false

    @Flag(
        name: .customLong("verify-endpoints"),
        help: "Roll back (and mark bad) a commit with a forwarded route whose service has no endpoints.")
    var verifyEndpoints = false

    @Flag(
        name: .customLong("verify-probes"),
        help: "After the swap, send the revision's route tests that expect a status through the gateway; a miss rolls it back.")
    var verifyProbes = false

    @Option(
        name: .customLong("verify-window"),
        help: ArgumentHelp(
            "Watch the routes a revision changed for this long after the swap; roll it back when too many answer 5xx (0s: off).",
            valueName: "duration"))
    var verifyWindow = "0s"

    @Option(
        name: .customLong("verify-max-error-ratio"),
        help: ArgumentHelp("Largest acceptable share of 5xx on the changed routes during --verify-window.", valueName: "ratio"))
    var verifyMaxErrorRatio = 0.1

    @Option(
        name: .customLong("verify-min-requests"),
        help: ArgumentHelp("Requests the window needs before the share counts.", valueName: "n"))
    var verifyMinRequests = 20

    func validate() throws {
        guard parseListenAddress(listen) != nil else { throw ValidationError("--listen must be host:port, got \(listen)") }
        guard parseListenAddress(admin) != nil else { throw ValidationError("--admin must be host:port, got \(admin)") }
        for (name, value) in [
            ("--poll", poll), ("--connect-timeout", connectTimeout), ("--read-timeout", readTimeout),
            ("--idle-timeout", idleTimeout), ("--grace", grace), ("--verify-window", verifyWindow),
        ] where Duration.seconds(value) == nil {
            throw ValidationError("\(name) must be a duration such as 500ms, 30s, 5m or 1h, got \(value)")
        }
        guard AccessLogFormat(rawValue: accessLog) != nil else { throw ValidationError("--access-log must be text, json or off") }
        if let listenTLS, parseListenAddress(listenTLS) == nil {
            throw ValidationError("--listen-tls must be host:port, got \(listenTLS)")
        }
        guard (0...1).contains(verifyMaxErrorRatio) else { throw ValidationError("--verify-max-error-ratio must be between 0 and 1") }
        guard verifyMinRequests >= 1 else { throw ValidationError("--verify-min-requests must be at least 1") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard (defaultCertificate == nil) == (defaultKey == nil) else {
            throw ValidationError("--default-certificate and --default-key go together")
        }
        if let webhookSecretFile {
            // Never echo the contents: only whether the file is usable.
            guard let secret = WebhookSecret(contentsOfFile: webhookSecretFile) else {
                throw ValidationError("cannot read --webhook-secret-file \(webhookSecretFile)")
            }
            guard !secret.isEmpty else { throw ValidationError("--webhook-secret-file \(webhookSecretFile) is empty") }
        }
    }

    func run() async throws {
        var handler = StreamLogHandler.standardError(label: "gitway")
        handler.logLevel = .info
        let logger = Logger(label: "gitway") { _ in handler }
        var config = ServeConfiguration(repository: try repository.options(), threads: threads)
        (config.listenHost, config.listenPort) = parseListenAddress(listen)!
        (config.adminHost, config.adminPort) = parseListenAddress(admin)!
        config.listenTLS = listenTLS.flatMap(parseListenAddress)
        config.pollSeconds = Duration.seconds(poll)!
        config.shutdownGraceSeconds = Duration.seconds(grace)!
        config.webhookSecret = webhookSecretFile.flatMap(WebhookSecret.init(contentsOfFile:))
        config.pushNotes = pushNotes
        config.allowEmpty = allowEmpty
        // Off by default: like MSE and ingress-nginx, a route to a service without endpoints answers 503
        // rather than blocking the whole revision (a service scaled to zero is not a broken commit).
        config.verifyEndpoints = verifyEndpoints
        config.verifyProbes = verifyProbes
        if let window = Duration.seconds(verifyWindow), window > 0 {
            config.errorRateWatch = ErrorRateWatchSettings(
                windowSeconds: window, maximumRatio: verifyMaxErrorRatio, minimumRequests: verifyMinRequests)
        }
        config.dataPlane.accessLog = AccessLogFormat(rawValue: accessLog)!
        config.dataPlane.connectTimeout = .nanoseconds(Int64(Duration.seconds(connectTimeout)! * 1e9))
        config.dataPlane.readTimeout = .nanoseconds(Int64(Duration.seconds(readTimeout)! * 1e9))
        config.dataPlane.idleTimeout = .nanoseconds(Int64(Duration.seconds(idleTimeout)! * 1e9))
        if let defaultCertificate, let defaultKey {
            guard let chain = FileManager.default.contents(atPath: defaultCertificate),
                let key = FileManager.default.contents(atPath: defaultKey)
            else {
                Terminal.error("error: cannot read --default-certificate \(defaultCertificate) or --default-key \(defaultKey)")
                throw ExitCode(2)
            }
            config.dataPlane.defaultCertificate = TLSCertificatePair(chainPEM: Array(chain), keyPEM: Array(key))
        }

        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let agent = GatewayAgent(configuration: config, group: group, logger: logger)
        let services = ServiceGroup(
            configuration: .init(services: [agent], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await services.run()
        } catch {
            Terminal.error("error: \(error)")
            try? await group.shutdownGracefully()
            throw ExitCode(2)
        }
        try await group.shutdownGracefully()
    }
}

extension Duration {
    /// `500ms`, `30s`, `5m`, `1h`, or plain seconds.
    static func seconds(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            guard let n = Double(text.dropLast(suffix.count)), n >= 0 else { return nil }
            return n * factor
        }
        return Double(text).flatMap { $0 >= 0 ? $0 : nil }
    }
}
