import Foundation
import Planner
import RouteModel

/// One sync attempt that looked at a new tip (or failed to reach one): a line of the ledger and of the commit's
/// `refs/notes/gitway` note. Unchanged tips are not attempts and are not recorded.
///
/// Meant to grow: every field but `time`, `branch`, `trigger` and `result` is optional, `result` is an open set of
/// strings, and readers ignore fields they do not know, so older `gitway history` binaries read newer ledgers.
public struct AttemptRecord: Sendable, Codable, Equatable {
    /// The outcome of an attempt. A string-backed struct rather than an enum, so a ledger written by a newer agent
    /// (with outcomes this binary does not know) still decodes.
    public struct Result: RawRepresentable, Sendable, Codable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The revision went live.
        public static let applied = Result(rawValue: "applied")
        /// The revision does not load, compile or pass its route tests; nothing live changed.
        public static let refused = Result(rawValue: "refused")
        /// The attempt could not run (fetch error, unreadable repository); nothing live changed; retried.
        public static let failed = Result(rawValue: "failed")
        /// Applying or verifying failed part way and the previous revision was restored.
        public static let rolledBack = Result(rawValue: "rolledBack")

        public init(from decoder: Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
        public func encode(to encoder: Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(rawValue)
        }
        public var description: String { rawValue == "rolledBack" ? "rolled back" : rawValue }
    }

    /// Added, removed and changed items between the previous and the attempted revision.
    public struct ChangeCounts: Sendable, Codable, Equatable {
        public var added: Int
        public var removed: Int
        public var changed: Int
        public init(added: Int = 0, removed: Int = 0, changed: Int = 0) {
            self.added = added
            self.removed = removed
            self.changed = changed
        }
        /// `+2 -0 ~1`.
        public var summary: String { "+\(added) -\(removed) ~\(changed)" }
    }

    public var time: Date
    /// The commit attempted (nil when the attempt failed before the branch resolved).
    public var revision: String?
    public var branch: String
    /// The commit serving when the attempt began.
    public var previous: String?
    public var trigger: SyncTrigger
    public var result: Result
    /// Located errors (`file:line:column: error: …`) or the failure message.
    public var reasons: [String]
    /// Failing route tests, located (`file:line:column: error: test "name": expected …, got …`).
    public var failingTests: [String]?
    /// Milliseconds per step: `fetch`, `load` (read the tree, parse, compile, route tests), `apply`, `total`.
    public var durations: [String: Double]
    /// Route changes against the previously live table (nil when not computed).
    public var routes: ChangeCounts?
    /// Cluster object changes of the plan that was applied (nil when no plan ran).
    public var objects: ChangeCounts?
    /// The commit's subject line, for `gitway history`.
    public var subject: String?

    public init(
        time: Date, revision: String?, branch: String, previous: String?, trigger: SyncTrigger, result: Result,
        reasons: [String] = [], failingTests: [String]? = nil, durations: [String: Double] = [:],
        routes: ChangeCounts? = nil, objects: ChangeCounts? = nil, subject: String? = nil
    ) {
        self.time = time
        self.revision = revision
        self.branch = branch
        self.previous = previous
        self.trigger = trigger
        self.result = result
        self.reasons = reasons
        self.failingTests = failingTests
        self.durations = durations
        self.routes = routes
        self.objects = objects
        self.subject = subject
    }

    /// The short sha of `revision` (`directory@…` revisions keep their prefix).
    public var shortRevision: String {
        guard let revision else { return "-" }
        return String(revision.prefix(revision.contains("@") ? 22 : 12))
    }

    /// One line for people: what happened and why. Secret-free by construction (see `noteLine`).
    public var summary: String {
        var parts: [String] = []
        switch result {
        case .applied:
            if let routes { parts.append("routes \(routes.summary)") }
        case .refused:
            let errors = reasons.count
            let tests = failingTests?.count ?? 0
            var what: [String] = []
            if errors > 0 { what.append("\(errors) error\(errors == 1 ? "" : "s")") }
            if tests > 0 { what.append("\(tests) failing route test\(tests == 1 ? "" : "s")") }
            parts.append(what.isEmpty ? "refused" : what.joined(separator: ", "))
        default:
            if let first = reasons.first { parts.append(first) }
        }
        if let subject, !subject.isEmpty { parts.append("\"\(subject)\"") }
        parts.append("via \(trigger.kind.rawValue)")
        return parts.joined(separator: " · ")
    }

    /// The line appended to the commit's `refs/notes/gitway` note. Carries result, trigger, previous revision, counts
    /// and the *locations* of the reasons, never their messages: a diagnostic may quote manifest content, and a
    /// note is pushed where more people can read it than the agent's state directory.
    public var noteLine: String {
        var line = "\(Self.timestamp(time)) gitway \(result.rawValue) branch=\(branch) trigger=\(trigger.kind.rawValue)"
        if let provider = trigger.provider { line += " provider=\(provider)" }
        if let delivery = trigger.delivery { line += " delivery=\(delivery)" }
        line += " previous=\(previous.map { String($0.prefix(12)) } ?? "-")"
        if let routes { line += " routes=\(routes.summary.replacingOccurrences(of: " ", with: ","))" }
        if let objects { line += " objects=\(objects.summary.replacingOccurrences(of: " ", with: ","))" }
        if !reasons.isEmpty { line += " errors=\(reasons.count)" }
        if let failingTests, !failingTests.isEmpty { line += " failing-tests=\(failingTests.count)" }
        let locations = (reasons + (failingTests ?? [])).compactMap(Self.location).prefix(5)
        if !locations.isEmpty { line += " at=" + locations.joined(separator: ",") }
        if let total = durations["total"] { line += " ms=\(Int(total.rounded()))" }
        return line
    }

    /// `file:line:column` of a located diagnostic, or nil.
    static func location(of diagnostic: String) -> String? {
        guard let range = diagnostic.range(of: #"^[^\s:]+:\d+:\d+"#, options: .regularExpression) else { return nil }
        return String(diagnostic[range])
    }

    public static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}

extension AttemptRecord.ChangeCounts {
    /// Routes paired and compared as `gitway plan` does (host and match; action and policies, not source
    /// locations: moving a manifest line changes no traffic).
    public init(routesFrom old: RouteTable?, to new: RouteTable) {
        let diff = Planner.routeDiff(live: old ?? RouteTable(), desired: new)
        self.init(added: diff.count(.added), removed: diff.count(.removed), changed: diff.count(.changed))
    }
}
