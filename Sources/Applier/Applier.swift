import Cluster
import Foundation
import Manifests
import Planner
import RouteModel

/// What to apply: a plan, the desired side it was computed from (the bodies of the objects to write),
/// and the options of this attempt.
public struct ApplyRequest: Sendable {
    public var plan: Plan
    /// The desired revision: `plan.head`'s objects and route table.
    public var desired: PlanInput
    /// Apply a plan that prunes every live object (`--allow-empty`).
    public var allowEmpty: Bool
    /// Install the desired table into the gateway even when the plan shows no change (the gateway
    /// serves something else, e.g. nothing after a restart).
    public var installGateway: Bool
    /// True once a newer commit is waiting; checked around verification.
    public var isSuperseded: @Sendable () async -> Bool

    public init(
        plan: Plan, desired: PlanInput, allowEmpty: Bool = false, installGateway: Bool = false,
        isSuperseded: @escaping @Sendable () async -> Bool = { false }
    ) {
        self.plan = plan
        self.desired = desired
        self.allowEmpty = allowEmpty
        self.installGateway = installGateway
        self.isSuperseded = isSuperseded
    }
}

/// Runs a `Plan` as one transaction over the cluster target and the gateway target:
///
/// 1. **begin** — journal the steps and the before-image of every object they touch;
/// 2. **cluster** — apply the steps in plan order (waves up, prunes down), journaling each; a failure
///    at step N restores steps 1…N from their before-images;
/// 3. **gateway** — swap the data plane to the new table, only once every cluster step is done;
/// 4. **verify** — run the checks; a failure restores the gateway and the cluster together and marks
///    the commit bad;
/// 5. **commit** — record the revision as applied, then drop the journal.
///
/// A crash anywhere leaves a journal that `recover()` turns into exactly the before or the after
/// revision. The data plane is memory only, so after a crash only the cluster needs repair; the
/// agent installs the gateway again on its first sync.
public final class Applier: Sendable {
    public let cluster: any ClusterTarget
    public let gateway: any GatewayTarget
    public let journal: Journal
    public let checks: [any VerificationCheck]
    /// Test hook, called right after each journal record is durable. A test throws from it to stop
    /// the transaction dead at that point (a simulated crash: no rollback runs), or kills the process.
    let afterJournalRecord: (@Sendable (JournalRecord) throws -> Void)?

    public init(
        cluster: any ClusterTarget, gateway: any GatewayTarget, journalDirectory: String,
        checks: [any VerificationCheck] = [EndpointsCheck()],
        testHookAfterJournalRecord: (@Sendable (JournalRecord) throws -> Void)? = nil
    ) {
        self.cluster = cluster
        self.gateway = gateway
        self.journal = Journal(directory: journalDirectory)
        self.checks = checks
        self.afterJournalRecord = testHookAfterJournalRecord
    }

    /// Runs the transaction. Cluster, gateway and verification failures are outcomes (rolled back);
    /// it throws only when the journal cannot be written or read (then nothing is known to be
    /// consistent until `recover()` succeeds) or when the test hook throws.
    public func apply(_ request: ApplyRequest) async throws -> ApplyOutcome {
        // An unfinished earlier transaction (a rollback that failed) is settled first.
        if try journal.read() != nil { _ = try recover() }

        let plan = request.plan
        let revision = request.desired.revision
        var outcome = ApplyOutcome(revision: revision, base: plan.base, result: .applied, summary: PlanSummary(plan))
        func stop(_ result: ApplyOutcome.Result, _ stage: ApplyOutcome.Stage, _ reason: String) -> ApplyOutcome {
            outcome.result = result
            outcome.stage = stage
            outcome.reason = reason
            return outcome
        }

        // A commit that failed verification is not retried (it would flap live state on every
        // poll); only a newer commit is applied.
        if let bad = try? cluster.metadata().badRevision(revision) {
            return stop(.refused, .plan, "\(revision) is marked bad (\(bad.reason)); waiting for a newer commit")
        }
        if plan.prunesEverything && !request.allowEmpty {
            return stop(
                .refused, .plan,
                "the plan prunes all \(plan.count(.prune)) live objects; refusing without --allow-empty (a wrong --path or an emptied repository?)"
            )
        }
        if !plan.hasChanges && !request.installGateway {
            do {
                var metadata = try cluster.metadata()
                if metadata.appliedRevision != revision {
                    metadata.appliedRevision = revision
                    try cluster.writeMetadata(metadata)
                }
            } catch {
                return stop(.failed, .commit, "recording the applied revision: \(error)")
            }
            outcome.result = .unchanged
            return outcome
        }

        // Steps, with the bodies to write; and the before-images, read before anything changes.
        var steps: [(step: JournalRecord.Step, object: LiveObject?)] = []
        for change in plan.objects {
            if change.action == .prune {
                steps.append((JournalRecord.Step(action: .prune, ref: change.object), nil))
            } else {
                guard let object = request.desired.object(change.object) else {
                    return stop(.refused, .plan, "the plan names \(change.object), which the desired revision does not hold")
                }
                steps.append((JournalRecord.Step(action: change.action, ref: change.object), LiveObject(object, revision: revision)))
            }
        }
        let before: [JournalRecord.BeforeImage]
        do {
            before = try steps.map { JournalRecord.BeforeImage(ref: $0.step.ref, object: try cluster.get($0.step.ref)) }
        } catch {
            return stop(.failed, .cluster, "reading live objects: \(error)")
        }
        let gatewayInvolved = request.installGateway || plan.hasChanges
        try record(
            JournalRecord(
                kind: .begin,
                begin: JournalRecord.Begin(
                    revision: revision, base: plan.base, planDigest: Self.digest(plan), steps: steps.map(\.step), before: before,
                    gateway: gatewayInvolved)))

        // Cluster, in plan order.
        for (index, (step, object)) in steps.enumerated() {
            do {
                if let object { try cluster.apply(object) } else { try cluster.delete(step.ref) }
            } catch {
                outcome.failedObject = step.ref
                // Step `index` is restored too: a target may have half-applied it before failing.
                return try await rollBack(
                    stop(.rolledBack, .cluster, "\(step.action.rawValue) \(step.ref): \(error)"), images: before[...index],
                    gatewaySwapped: false)
            }
            outcome.stepsApplied = index + 1
            try record(JournalRecord(kind: .step, step: index + 1))
        }
        try record(JournalRecord(kind: .clusterCommitted))

        // Gateway, only after the cluster.
        if gatewayInvolved {
            do {
                try await gateway.install(revision: revision, table: request.desired.table, objects: request.desired.manifests)
            } catch {
                return try await rollBack(
                    stop(.rolledBack, .gateway, "installing the route table: \(error)"), images: before[...], gatewaySwapped: false)
            }
            try record(JournalRecord(kind: .gatewaySwapped))
        }

        // Verification.
        let context = VerificationContext(
            revision: revision, table: request.desired.table, objects: request.desired.manifests, isSuperseded: request.isSuperseded)
        for check in checks {
            let result: VerificationResult = await request.isSuperseded() ? .superseded : await check.verify(context)
            switch result {
            case .passed:
                outcome.checks.append(ApplyOutcome.CheckReport(name: check.name, passed: true))
            case .superseded:
                return try await rollBack(
                    stop(.superseded, .verification, "a newer commit arrived during verification (\(check.name))"),
                    images: before[...], gatewaySwapped: gatewayInvolved)
            case .failed(let reason):
                outcome.checks.append(ApplyOutcome.CheckReport(name: check.name, passed: false, message: reason))
                try record(JournalRecord(kind: .verificationFailed, reason: "\(check.name): \(reason)"))
                outcome.markedBad = true
                return try await rollBack(
                    stop(.rolledBack, .verification, "verification failed: \(check.name): \(reason)"), images: before[...],
                    gatewaySwapped: gatewayInvolved)
            }
        }
        try record(JournalRecord(kind: .verified))

        // Commit.
        do {
            var metadata = try cluster.metadata()
            metadata.appliedRevision = revision
            try cluster.writeMetadata(metadata)
        } catch {
            // Verified and live; the journal stays at `verified`, so recovery rolls forward.
            return stop(.failed, .commit, "recording the applied revision: \(error)")
        }
        try record(JournalRecord(kind: .committed))
        try journal.remove()
        return outcome
    }

    /// Restores the gateway (if it was swapped) and the given objects (last first), marks the commit
    /// bad when `outcome.markedBad`, and closes the journal. When a restore fails the journal is kept
    /// and the outcome is `failed`: recovery restores every before-image again (each is idempotent).
    func rollBack(
        _ outcome: ApplyOutcome, images: ArraySlice<JournalRecord.BeforeImage>, gatewaySwapped: Bool
    ) async throws -> ApplyOutcome {
        var outcome = outcome
        var problems: [String] = []
        if gatewaySwapped {
            do { try await gateway.restorePrevious() } catch { problems.append("gateway: \(error)") }
        }
        for image in images.reversed() {
            do { try cluster.restore(image.ref, to: image.object) } catch { problems.append("\(image.ref): \(error)") }
        }
        if outcome.markedBad {
            do {
                var metadata = try cluster.metadata()
                metadata.markBad(outcome.revision, reason: outcome.reason ?? "verification failed")
                try cluster.writeMetadata(metadata)
            } catch {
                problems.append("marking \(outcome.revision) bad: \(error)")
            }
        }
        guard problems.isEmpty else {
            outcome.result = .failed
            outcome.reason = (outcome.reason ?? "") + "; rollback incomplete (\(problems.joined(separator: "; "))); recovery will retry"
            return outcome
        }
        try record(JournalRecord(kind: .rolledBack, reason: outcome.reason))
        try journal.remove()
        return outcome
    }

    func record(_ record: JournalRecord) throws {
        try journal.append(record)
        try afterJournalRecord?(record)
    }

    /// `fnv1a64:<hex>` of the plan's canonical JSON: identifies the plan in the journal (not a security digest).
    static func digest(_ plan: Plan) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let bytes = (try? encoder.encode(plan)) ?? Data()
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return "fnv1a64:" + String(hash, radix: 16)
    }
}
