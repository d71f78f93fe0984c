import Applier
import DataPlane
import Dispatch
import Foundation
import GitSource
import Logging
import Manifests
import NIOConcurrencyHelpers
import NIOCore
import Pipeline
import RouteModel
import ServiceLifecycle

/// `gitway serve`: follows the branch, compiles every new tip, and installs valid revisions into
/// the embedded data plane. A commit that does not validate is refused with its diagnostics and
/// the previous revision keeps serving.
///
/// A `Service` (swift-service-lifecycle): on SIGTERM/SIGINT it stops reconciling first, then the
/// data plane stops accepting and drains in-flight requests, then the admin server closes.
public final class GatewayAgent: ServiceLifecycle.Service, Sendable {
    public let configuration: ServeConfiguration
    public let dataPlane: DataPlane
    let logger: Logger
    let group: EventLoopGroup
    let source: GitSource
    let state = NIOLockedValueBox<(status: AgentStatus, counters: SyncCounters)>((AgentStatus(), SyncCounters()))
    let triggers: AsyncStream<Void>
    let trigger: AsyncStream<Void>.Continuation
    /// Bound addresses, for tests that listen on port 0.
    let bound = NIOLockedValueBox<(proxy: SocketAddress?, admin: SocketAddress?)>((nil, nil))
    let boundTLS = NIOLockedValueBox<SocketAddress?>(nil)
    /// The gateway side of apply transactions (see `GatewayAgent+Apply.swift`).
    let gateway: DataPlaneGateway
    /// Opened in `run()`: the store can be corrupt, which stops the agent with a clear error.
    let transactions = NIOLockedValueBox<Applier?>(nil)
    let lastApplyBox = NIOLockedValueBox<ApplyOutcome?>(nil)
    /// Set by `requestSync()`: a newer commit may be waiting (checked by verifications that wait).
    let syncRequested = NIOLockedValueBox(false)

    public init(configuration: ServeConfiguration, group: EventLoopGroup, logger: Logger, accessLog: AccessLogSink = .standardOutput) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
        self.dataPlane = DataPlane(group: group, configuration: configuration.dataPlane, logger: logger, accessLog: accessLog)
        self.gateway = DataPlaneGateway(dataPlane: dataPlane)
        let options = configuration.repository
        self.source = GitSource(
            repository: options.repository, branch: options.branch, filter: options.filter,
            stateDirectory: options.stateDirectory, credentials: options.credentials)
        // Bursts of sync requests coalesce into one pending sync.
        (triggers, trigger) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    public var status: AgentStatus { state.withLockedValue { $0.status } }
    public var counters: SyncCounters { state.withLockedValue { $0.counters } }
    public var proxyAddress: SocketAddress? { bound.withLockedValue { $0.proxy } }
    public var adminAddress: SocketAddress? { bound.withLockedValue { $0.admin } }
    public var tlsAddress: SocketAddress? { boundTLS.withLockedValue { $0 } }

    /// Asks for a sync now (admin `POST /sync`, webhooks).
    public func requestSync() {
        syncRequested.withLockedValue { $0 = true }
        trigger.yield()
    }

    public func run() async throws {
        try openLiveState()
        let proxy = try await dataPlane.bindHTTP(host: configuration.listenHost, port: configuration.listenPort)
        if let listenTLS = configuration.listenTLS {
            let address = try await dataPlane.bindTLS(host: listenTLS.host, port: listenTLS.port)
            boundTLS.withLockedValue { $0 = address }
        }
        let admin = try await AdminServer.bind(host: configuration.adminHost, port: configuration.adminPort, agent: self, group: group)
        bound.withLockedValue { $0 = (proxy, admin.localAddress) }
        logger.info(
            "gitway serving",
            metadata: [
                "listen": "\(proxy)", "listen_tls": "\(tlsAddress.map { "\($0)" } ?? "-")",
                "admin": "\(admin.localAddress.map { "\($0)" } ?? "-")",
                "repo": "\(source.displayName)", "branch": "\(configuration.repository.branch)",
            ])

        let poll = configuration.pollSeconds
        let trigger = self.trigger
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: UInt64(poll * 1e9))
                trigger.yield()
            }
        }
        trigger.yield()  // the first sync happens at start
        await withGracefulShutdownHandler {
            for await _ in triggers {
                await sync()
            }
        } onGracefulShutdown: {
            trigger.finish()
        }
        ticker.cancel()
        logger.info("shutting down: draining in-flight requests")
        await dataPlane.shutdown(gracePeriod: .milliseconds(Int64(configuration.shutdownGraceSeconds * 1000)))
        try? await admin.close()
        logger.info("stopped")
    }

    /// One reconcile: fetch, and when the tip moved, load, compile, validate and install.
    public func sync() async {
        let outcome: SyncOutcome = await withCheckedContinuation { continuation in
            // Git and YAML work is blocking: keep it off the cooperative pool.
            DispatchQueue.global().async {
                continuation.resume(returning: self.prepare())
            }
        }
        let now = Date()
        switch outcome {
        case .unchanged:
            state.withLockedValue {
                $0.counters.attempts += 1; $0.counters.unchanged += 1
            }
        case .failed(let message):
            logger.error("sync failed", metadata: ["error": "\(message)"])
            state.withLockedValue {
                $0.counters.attempts += 1
                $0.counters.failed += 1
                $0.status.attemptedAt = now
                $0.status.attemptedResult = .failed
                $0.status.message = message
            }
        case .refused(let sha, let diagnostics):
            logger.error(
                "revision refused; the previous revision keeps serving", metadata: ["revision": "\(sha)", "errors": "\(diagnostics.count)"])
            for d in diagnostics.prefix(50) { logger.error("\(d)") }
            state.withLockedValue {
                $0.counters.attempts += 1
                $0.counters.refused += 1
                $0.status.attempted = sha
                $0.status.attemptedAt = now
                $0.status.attemptedResult = .refused
                $0.status.message = "\(diagnostics.count) error\(diagnostics.count == 1 ? "" : "s")"
                $0.status.diagnostics = Array(diagnostics.prefix(20))
            }
            await serveLastAppliedIfIdle()  // after a restart, the stored revision serves instead
        case .ready(let sha, let manifests, let table, let warnings):
            for w in warnings.prefix(20) { logger.warning("\(w)") }
            // Plan against live state, then one transaction: cluster, gateway, verification.
            let outcome = await applyRevision(sha, manifests: manifests, table: table)
            reportApply(outcome, table: table, attemptedAt: now)
        }
    }

    enum SyncOutcome {
        case unchanged
        case failed(String)
        case refused(sha: String, diagnostics: [String])
        case ready(sha: String, manifests: ManifestSet, table: RouteTable, warnings: [String])
    }

    /// The certificate and key of every Secret the table's TLS bindings name, by `namespace/name`.
    static func certificates(for table: RouteTable, in manifests: ManifestSet) -> [String: TLSCertificatePair] {
        let wanted = Set(table.tls.map(\.secret))
        guard !wanted.isEmpty else { return [:] }
        var out: [String: TLSCertificatePair] = [:]
        for secret in manifests.secrets {
            let key = secret.metadata.namespace + "/" + secret.metadata.name
            guard wanted.contains(key), let chain = secret.data["tls.crt"], let privateKey = secret.data["tls.key"] else { continue }
            out[key] = TLSCertificatePair(chainPEM: chain, keyPEM: privateKey)
        }
        return out
    }

    /// A plain directory (no Git): re-read on every sync, recompiled when its content digest changes.
    func prepareDirectory() -> SyncOutcome {
        do {
            let options = configuration.repository
            let files = try ManifestLoader.files(inDirectory: options.repository, subdirectory: options.path)
            let digest = SourceArtifact.digest(of: files.map { SourceFile(path: $0.path, bytes: $0.bytes) })
            let revision = "directory@" + digest
            if revision == state.withLockedValue({ $0.status.attempted }) { return .unchanged }
            let desired = try DesiredStateLoader.load(options)
            if desired.diagnostics.hasErrors {
                return .refused(sha: revision, diagnostics: desired.diagnostics.errors.map(\.description))
            }
            var table = desired.table
            table.revision = revision
            return .ready(
                sha: revision, manifests: desired.manifests, table: table,
                warnings: desired.diagnostics.filter { $0.severity == .warning }.map(\.description))
        } catch {
            return .failed("\(error)")
        }
    }

    /// Fetch and compile, on a plain thread. A tip equal to the last attempted commit costs a fetch only.
    func prepare() -> SyncOutcome {
        do {
            let options = configuration.repository
            if DesiredStateLoader.plainDirectory(options.repository) != nil { return prepareDirectory() }
            let repository = try source.open()
            if source.isRemote { _ = try repository.fetch(branch: options.branch, credentials: options.credentials) }
            let sha = try repository.resolve(options.branch)
            if sha == state.withLockedValue({ $0.status.attempted }) { return .unchanged }
            let commit = try repository.commitInfo(sha)
            let tree = try repository.readTree(commit: sha, filter: options.filter)
            let artifact = SourceArtifact(
                branch: options.branch, commit: commit, filter: options.filter, files: tree.files, oversized: tree.oversized)
            let desired = try DesiredStateLoader.compile(artifact: artifact, repository: repository, options: options)
            if desired.diagnostics.hasErrors {
                return .refused(sha: sha, diagnostics: desired.diagnostics.errors.map(\.description))
            }
            return .ready(
                sha: sha, manifests: desired.manifests, table: desired.table,
                warnings: desired.diagnostics.filter { $0.severity == .warning }.map(\.description))
        } catch {
            return .failed("\(error)")
        }
    }
}
