import Foundation
import RouteModel

/// What the agent reports about itself: the live revision, the last attempt and its outcome.
/// Applied and attempted revisions are kept apart (as Flux's `lastAppliedRevision` and
/// `lastAttemptedRevision`), so "commit X is broken, still serving Y" is visible.
public struct AgentStatus: Sendable, Codable, Equatable {
    public enum Result: String, Sendable, Codable {
        case applied, refused, failed, unchanged
        /// Applied, then undone (a cluster step, the gateway or verification failed); see `GatewayAgent.lastApply`.
        case rolledBack
    }

    /// The commit being served.
    public var revision: String?
    public var appliedAt: Date?
    /// The last commit the agent tried.
    public var attempted: String?
    public var attemptedAt: Date?
    public var attemptedResult: Result?
    /// Why the last attempt was refused or failed.
    public var message: String?
    /// The first diagnostics of a refused commit (`file:line:column: error: message`).
    public var diagnostics: [String]?
    /// Time to build and swap the live snapshot, in milliseconds.
    public var buildMilliseconds: Double?
    public var swapMilliseconds: Double?
    public var routes: Int?
    /// The last attempt as recorded in the ledger: trigger, reasons, failing tests, durations, route counts.
    public var lastAttempt: AttemptRecord?

    public init() {}
}

/// Counters of the reconcile loop, for `/metrics`.
public struct SyncCounters: Sendable {
    public var attempts = 0
    public var applied = 0
    public var refused = 0
    public var failed = 0
    public var unchanged = 0
    /// Transactions rolled back, by the stage that failed (cluster, gateway, verification).
    public var rolledBack: [String: Int] = [:]
    /// Revisions read and compiled. An unchanged tip must not add to it (the fetch is all it costs).
    public var loads = 0
}
