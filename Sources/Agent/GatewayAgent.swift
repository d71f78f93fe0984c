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
    /// Pending sync requests (start, poll, webhook, `POST /sync`), coalesced.
    let mailbox = TriggerMailbox()
    /// Verifies `POST /hooks/<provider>` deliveries.
    public let webhooks: WebhookReceiver
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
    /// The route tests of the revision being applied, by revision, for `--verify-probes`.
    let probes = NIOLockedValueBox<(revision: String, files: [RouteTestFile])?>(nil)

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
        self.webhooks = WebhookReceiver(
            secret: configuration.webhookSecret, branch: options.branch, maxBodyBytes: configuration.webhookMaxBodyBytes)
    }

    public var status: AgentStatus { state.withLockedValue { $0.status } }
    public var counters: SyncCounters { state.withLockedValue { $0.counters } }
    public var proxyAddress: SocketAddress? { bound.withLockedValue { $0.proxy } }
    public var adminAddress: SocketAddress? { bound.withLockedValue { $0.admin } }
    public var tlsAddress: SocketAddress? { boundTLS.withLockedValue { $0 } }

    /// Asks for a sync now (admin `POST /sync`, webhooks); bursts coalesce into one pending sync,
    /// and a verification still waiting is superseded.
    public func requestSync(_ trigger: SyncTrigger = .sync) {
        syncRequested.withLockedValue { $0 = true }
        mailbox.post(trigger)
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

        if !webhooks.requiresSignature {
            logger.warning("no --webhook-secret-file: webhook deliveries are accepted without verifying a signature")
        }
        if ledger == nil { logger.warning("no --state-dir: attempts are not recorded in a ledger") }

        let (poll, jitter) = (configuration.pollSeconds, configuration.pollJitter)
        let mailbox = self.mailbox
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: UInt64(PollSchedule.delay(seconds: poll, jitter: jitter) * 1e9))
                // Like a webhook, a tick lets a verification still waiting look for a newer commit.
                self.requestSync(.poll)
            }
        }
        mailbox.post(.start)  // the first sync happens at start
        let spacing = configuration.minimumSyncSpacingSeconds
        await withGracefulShutdownHandler {
            var lastStart: ContinuousClock.Instant?
            for await _ in mailbox.signals {
                // Syncs start at least `spacing` apart, so a burst of deliveries merges into one more sync.
                if let lastStart {
                    let wait = Duration.seconds(spacing) - (ContinuousClock.now - lastStart)
                    if wait > .zero { try? await Task.sleep(for: wait) }
                }
                // A signal whose trigger an earlier iteration already took is stale: no sync.
                guard let trigger = mailbox.take() else { continue }
                lastStart = ContinuousClock.now
                await sync(trigger: trigger)
            }
        } onGracefulShutdown: {
            mailbox.finish()
        }
        ticker.cancel()
        logger.info("shutting down: draining in-flight requests")
        await dataPlane.shutdown(gracePeriod: .milliseconds(Int64(configuration.shutdownGraceSeconds * 1000)))
        try? await admin.close()
        logger.info("stopped")
    }

    /// One reconcile: fetch, and when the tip moved, load, compile, validate and install; then record the attempt.
    public func sync(trigger: SyncTrigger = .sync) async {
        let context = AttemptContext()
        let started = Date()
        let previous = status.revision
        let previousTable = dataPlane.store.current?.table
        let outcome: SyncOutcome = await withCheckedContinuation { continuation in
            // Git and YAML work is blocking: keep it off the cooperative pool.
            DispatchQueue.global().async {
                continuation.resume(returning: self.prepare(context))
            }
        }
        let now = Date()
        let applyStart = DispatchTime.now()
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
                $0.status.message = context.refusalSummary(diagnostics)
                $0.status.diagnostics = Array(diagnostics.prefix(20))
            }
            await serveLastAppliedIfIdle()  // after a restart, the stored revision serves instead
        case .ready(let sha, let manifests, let table, let warnings):
            for w in warnings.prefix(20) { logger.warning("\(w)") }
            // Plan against live state, then one transaction: cluster, gateway, verification.
            let outcome = await applyRevision(sha, manifests: manifests, table: table)
            reportApply(outcome, table: table, attemptedAt: now)
        }
        if case .ready = outcome { context.add("apply", since: applyStart) }
        if let record = attemptRecord(
            outcome, trigger: trigger, context: context, previous: previous, previousTable: previousTable, time: started)
        {
            await self.record(record)
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
    func prepareDirectory(_ context: AttemptContext) -> SyncOutcome {
        do {
            let options = configuration.repository
            // Route tests count: changing only a test must re-run the gate.
            let files = try ManifestLoader.files(inDirectory: options.repository, subdirectory: options.path, includeRouteTests: true)
            let digest = SourceArtifact.digest(of: files.map { SourceFile(path: $0.path, bytes: $0.bytes) })
            let revision = "directory@" + digest
            if revision == state.withLockedValue({ $0.status.attempted }) { return .unchanged }
            state.withLockedValue { $0.counters.loads += 1 }
            let desired = try context.time("load") { try DesiredStateLoader.load(options) }
            if !desired.isAcceptable { return context.refuse(revision, desired) }
            var table = desired.table
            table.revision = revision
            probes.withLockedValue { $0 = (revision, desired.routeTestFiles) }
            return .ready(
                sha: revision, manifests: desired.manifests, table: table,
                warnings: desired.diagnostics.filter { $0.severity == .warning }.map(\.description))
        } catch {
            return .failed("\(error)")
        }
    }

    /// Fetch and compile, on a plain thread. A tip equal to the last attempted commit costs a fetch only.
    /// A commit that does not load, compile or pass its route tests is refused (`DesiredState.isAcceptable`).
    func prepare(_ context: AttemptContext = AttemptContext()) -> SyncOutcome {
        do {
            let options = configuration.repository
            if DesiredStateLoader.plainDirectory(options.repository) != nil { return prepareDirectory(context) }
            let repository = try source.open()
            if source.isRemote {
                _ = try context.time("fetch") { try repository.fetch(branch: options.branch, credentials: options.credentials) }
            }
            let sha = try repository.resolve(options.branch)
            if sha == state.withLockedValue({ $0.status.attempted }) { return .unchanged }
            state.withLockedValue { $0.counters.loads += 1 }
            let commit = try repository.commitInfo(sha)
            context.details.withLockedValue { $0.subject = commit.summary }
            let desired = try context.time("load") {
                let tree = try repository.readTree(commit: sha, filter: options.filter)
                let artifact = SourceArtifact(
                    branch: options.branch, commit: commit, filter: options.filter, files: tree.files, oversized: tree.oversized)
                return try DesiredStateLoader.compile(artifact: artifact, repository: repository, options: options)
            }
            if !desired.isAcceptable { return context.refuse(sha, desired) }
            probes.withLockedValue { $0 = (sha, desired.routeTestFiles) }
            return .ready(
                sha: sha, manifests: desired.manifests, table: desired.table,
                warnings: desired.diagnostics.filter { $0.severity == .warning }.map(\.description))
        } catch {
            return .failed("\(error)")
        }
    }
}
