import Applier
import Cluster
import Dispatch
import Foundation
import Logging
import Manifests
import Pipeline
import Planner
import RouteModel

// The apply step of the reconcile loop: desired state → plan against live state (the embedded
// store and the table the gateway serves) → one transaction (cluster, then gateway, then
// verification) → an `ApplyOutcome`.

extension GatewayAgent {
    /// `--state-dir`, or a directory of this process when none was given (then nothing survives a restart).
    var stateDirectory: String {
        configuration.repository.stateDirectory
            ?? (NSTemporaryDirectory() + "gitway-state-\(ProcessInfo.processInfo.processIdentifier)")
    }

    /// The outcome of the last apply attempt, for the ledger and status. Nil before the first one.
    public var lastApply: ApplyOutcome? { lastApplyBox.withLockedValue { $0 } }

    /// `--verify-probes`: the route tests of the revision under verification, sent through the plain listener.
    var probeCheck: ProbeCheck {
        let probes = self.probes
        let bound = self.bound
        return ProbeCheck(
            files: { revision in probes.withLockedValue { $0?.revision == revision ? $0!.files : [] } },
            address: { bound.withLockedValue { $0.proxy }.flatMap { a in a.port.map { (a.ipAddress ?? "127.0.0.1", $0) } } })
    }

    /// Opens the embedded store and settles a transaction a crash interrupted, so live state is exactly
    /// one revision before anything else runs. A corrupt store or journal stops the agent.
    func openLiveState() throws {
        let store = try EmbeddedStore(directory: stateDirectory + "/cluster")
        let applier = Applier(
            cluster: store, gateway: gateway, journalDirectory: stateDirectory + "/journal",
            checks: configuration.verificationChecks
                + (configuration.errorRateWatch.map { [ErrorRateWatch(plane: dataPlane, settings: $0)] } ?? [])
                + (configuration.verifyProbes ? [probeCheck] : []))
        let recovery = try applier.recover()
        if recovery.action != .none {
            logger.warning(
                "recovered an interrupted transaction",
                metadata: [
                    "action": "\(recovery.action.rawValue)", "revision": "\(recovery.revision ?? "-")",
                    "last_record": "\(recovery.lastRecord ?? "-")",
                ])
        }
        transactions.withLockedValue { $0 = applier }
    }

    /// Plans `revision` against live state and runs the transaction. Never throws: every way it can
    /// end is an `ApplyOutcome` (also kept as `lastApply`).
    public func applyRevision(_ revision: String, manifests: ManifestSet, table: RouteTable) async -> ApplyOutcome {
        let outcome = await transact(revision, manifests: manifests, table: table)
        lastApplyBox.withLockedValue { $0 = outcome }
        if outcome.result != .applied && outcome.result != .unchanged { await serveLastAppliedIfIdle() }
        return outcome
    }

    /// Last good keeps serving across restarts: the data plane starts empty, so when the tip cannot
    /// go live (marked bad, rolled back, refused) the revision the store holds is served again,
    /// compiled from its commit. Nothing to do when the gateway already serves something.
    func serveLastAppliedIfIdle() async {
        guard gateway.currentTable == nil, let applier = transactions.withLockedValue({ $0 }),
            let applied = try? applier.cluster.metadata().appliedRevision,
            applied.count == 40, applied.allSatisfy(\.isHexDigit)
        else { return }
        let loaded: Result<DesiredState, Error> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(
                    returning: Result {
                        let (artifact, _) = try self.source.artifact(at: applied)
                        return try DesiredStateLoader.compile(
                            artifact: artifact, repository: try self.source.open(), options: self.configuration.repository)
                    })
            }
        }
        guard case .success(let desired) = loaded, !desired.diagnostics.hasErrors else {
            logger.error("cannot serve the last applied revision", metadata: ["revision": "\(applied)"])
            return
        }
        let outcome = await transact(applied, manifests: desired.manifests, table: desired.table)
        guard outcome.result == .applied || outcome.result == .unchanged else {
            logger.error(
                "cannot serve the last applied revision", metadata: ["revision": "\(applied)", "reason": "\(outcome.reason ?? "-")"])
            return
        }
        logger.info("serving the last applied revision", metadata: ["revision": "\(applied)", "routes": "\(desired.table.routeCount)"])
        state.withLockedValue {
            $0.status.revision = applied
            $0.status.appliedAt = Date()
            $0.status.routes = desired.table.routeCount
        }
    }

    private func transact(_ revision: String, manifests: ManifestSet, table: RouteTable) async -> ApplyOutcome {
        let desired = PlanInput(revision: revision, manifests: manifests, table: table)
        func failed(_ reason: String) -> ApplyOutcome {
            let empty = Plan(base: "", head: revision, objects: [], unchangedObjects: 0, routes: RouteDiff(), prunesEverything: false)
            return ApplyOutcome(revision: revision, base: "", result: .failed, stage: .plan, reason: reason, summary: PlanSummary(empty))
        }
        guard let applier = transactions.withLockedValue({ $0 }) else { return failed("live state is not open") }
        let served = gateway.currentTable
        let live: PlanInput
        do {
            live = try PlanInput(
                live: try applier.cluster.list(), revision: try applier.cluster.metadata().appliedRevision ?? "",
                table: served ?? RouteTable())
        } catch {
            return failed("reading live state: \(error)")
        }
        let request = ApplyRequest(
            plan: Planner.plan(live: live, desired: desired), desired: desired, allowEmpty: configuration.allowEmpty,
            installGateway: served != table, isSuperseded: { await self.newerCommitWaiting(than: revision) })
        do {
            return try await applier.apply(request)
        } catch {
            // The journal could not be written or read; the next attempt recovers first.
            return failed("transaction journal: \(error)")
        }
    }

    /// Whether a sync was requested since the last look and the branch tip is no longer `revision`.
    func newerCommitWaiting(than revision: String) async -> Bool {
        guard
            syncRequested.withLockedValue({ requested in
                defer { requested = false }
                return requested
            })
        else { return false }
        let tip: String? = await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: try? self.branchTip()) }
        }
        guard let tip, tip != revision else { return false }
        // A tip already marked bad will not be applied: it must not cut short the revision being
        // verified (the last good one being served again after a restart, typically).
        let bad = (try? transactions.withLockedValue({ $0 })?.cluster.metadata().badRevision(tip)) ?? nil
        return bad == nil
    }

    /// The branch tip after a fetch (nil for a plain directory, which has no history to supersede).
    func branchTip() throws -> String? {
        let options = configuration.repository
        if DesiredStateLoader.plainDirectory(options.repository) != nil { return nil }
        let repository = try source.open()
        if source.isRemote { _ = try repository.fetch(branch: options.branch, credentials: options.credentials) }
        return try repository.resolve(options.branch)
    }

    /// Logs an outcome and folds it into status and counters.
    func reportApply(_ outcome: ApplyOutcome, table: RouteTable, attemptedAt now: Date) {
        let metadata: Logger.Metadata = ["revision": "\(outcome.revision)", "plan": "\(outcome.summary.text)"]
        switch outcome.result {
        case .applied, .unchanged:
            let report = gateway.lastReport
            for w in report?.warnings.prefix(20) ?? [] { logger.warning("\(w)") }
            logger.info(
                "revision live",
                metadata: metadata.merging(["result": "\(outcome.result.rawValue)", "routes": "\(table.routeCount)"]) { $1 })
            state.withLockedValue {
                $0.counters.attempts += 1
                $0.counters.applied += 1
                $0.status.revision = outcome.revision
                $0.status.appliedAt = Date()
                $0.status.attempted = outcome.revision
                $0.status.attemptedAt = now
                $0.status.attemptedResult = .applied
                $0.status.message = nil
                $0.status.diagnostics = nil
                if let report {
                    $0.status.buildMilliseconds = report.buildSeconds * 1000
                    $0.status.swapMilliseconds = report.swapSeconds * 1000
                }
                $0.status.routes = table.routeCount
            }
        case .refused, .rolledBack, .superseded, .failed:
            let result: AgentStatus.Result =
                switch outcome.result {
                case .refused: .refused
                case .rolledBack: .rolledBack
                default: .failed
                }
            logger.error(
                "revision not applied; the previous revision keeps serving",
                metadata: metadata.merging(
                    [
                        "result": "\(outcome.result.rawValue)", "stage": "\(outcome.stage?.rawValue ?? "-")",
                        "reason": "\(outcome.reason ?? "-")",
                    ]) { $1 })
            state.withLockedValue {
                $0.counters.attempts += 1
                switch outcome.result {
                case .refused: $0.counters.refused += 1
                case .rolledBack: $0.counters.rolledBack[outcome.stage?.rawValue ?? "unknown", default: 0] += 1
                case .superseded: break
                default: $0.counters.failed += 1
                }
                $0.status.attempted = outcome.revision
                $0.status.attemptedAt = now
                $0.status.attemptedResult = result
                $0.status.message = outcome.reason
                $0.status.diagnostics = nil
            }
        }
    }
}
