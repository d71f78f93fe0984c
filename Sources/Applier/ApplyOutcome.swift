import Planner

/// What one apply attempt did, as a plain value for the ledger, `/revision` and logs.
///
/// `result` is the outcome; `stage` and `reason` say where and why it stopped when it did not apply;
/// `summary` counts the plan. A `rolledBack` outcome means live state (cluster and gateway) is exactly
/// as it was before the attempt; `failed` means the rollback itself could not finish and the journal
/// was kept, so the next `Applier.recover()` (at the next attempt or start) completes it.
public struct ApplyOutcome: Sendable, Codable, Equatable {
    public enum Result: String, Sendable, Codable {
        /// The revision is live and verified.
        case applied
        /// Nothing to change; the revision is recorded as applied.
        case unchanged
        /// Not attempted: the plan prunes everything without `--allow-empty`, or the commit is marked bad.
        case refused
        /// Attempted and undone: a cluster step, the gateway install or a verification check failed.
        case rolledBack
        /// Undone because a newer commit arrived while verification was waiting. Not marked bad.
        case superseded
        /// Could not finish or undo cleanly; the journal is kept for recovery.
        case failed
    }

    public enum Stage: String, Sendable, Codable {
        case plan, cluster, gateway, verification, commit
    }

    public var revision: String
    /// The revision live state was before the attempt.
    public var base: String
    public var result: Result
    public var stage: Stage?
    public var reason: String?
    /// The commit failed verification and will not be retried until a newer commit arrives.
    public var markedBad: Bool
    /// For a cluster failure: the object whose step failed.
    public var failedObject: ObjectRef?
    /// Cluster steps done before the outcome (all of them for `applied`).
    public var stepsApplied: Int
    public var summary: PlanSummary
    /// Each check run, in order.
    public var checks: [CheckReport]

    public init(
        revision: String, base: String, result: Result, stage: Stage? = nil, reason: String? = nil, markedBad: Bool = false,
        failedObject: ObjectRef? = nil, stepsApplied: Int = 0, summary: PlanSummary, checks: [CheckReport] = []
    ) {
        self.revision = revision
        self.base = base
        self.result = result
        self.stage = stage
        self.reason = reason
        self.markedBad = markedBad
        self.failedObject = failedObject
        self.stepsApplied = stepsApplied
        self.summary = summary
        self.checks = checks
    }

    public struct CheckReport: Sendable, Codable, Equatable {
        public var name: String
        public var passed: Bool
        public var message: String?

        public init(name: String, passed: Bool, message: String? = nil) {
            self.name = name
            self.passed = passed
            self.message = message
        }
    }
}

/// A plan's counts, for one-line summaries and the ledger.
public struct PlanSummary: Sendable, Codable, Equatable {
    public var created: Int
    public var updated: Int
    public var pruned: Int
    public var unchanged: Int
    public var routesAdded: Int
    public var routesRemoved: Int
    public var routesChanged: Int
    public var prunesEverything: Bool

    public init(_ plan: Plan) {
        created = plan.count(.create)
        updated = plan.count(.update)
        pruned = plan.count(.prune)
        unchanged = plan.unchangedObjects
        routesAdded = plan.routes.count(.added)
        routesRemoved = plan.routes.count(.removed)
        routesChanged = plan.routes.count(.changed)
        prunesEverything = plan.prunesEverything
    }

    /// `+2 ~1 -0 =5 objects, routes +3 ~0 -1`.
    public var text: String {
        "+\(created) ~\(updated) -\(pruned) =\(unchanged) objects, routes +\(routesAdded) ~\(routesChanged) -\(routesRemoved)"
    }
}
