import Cluster
import Foundation

extension Applier {
    /// What `recover()` found and did.
    public struct Recovery: Sendable, Equatable {
        public enum Action: String, Sendable {
            /// No transaction was in progress.
            case none
            /// The transaction had finished (committed or rolled back); only its journal was left.
            case finished
            /// The transaction was undone: live objects are the before revision again.
            case rolledBack
            /// The transaction had verified but not committed: it was committed.
            case rolledForward
        }

        public var action: Action
        /// The revision of the interrupted transaction.
        public var revision: String?
        /// The last journal record reached (`step:3`, `gatewaySwapped`, …).
        public var lastRecord: String?
    }

    /// Finishes or undoes an interrupted transaction so that live state is exactly one revision.
    ///
    /// The rule: a transaction that reached `verified` is committed (it was proved good and only the
    /// bookkeeping was missing); anything earlier is undone by restoring every before-image, because
    /// the before revision is the last one known good. A `verificationFailed` record also marks the
    /// commit bad. Every action is idempotent, so a crash during recovery is repaired by the next one.
    /// Throws `JournalError` for an unreadable journal and target errors as they come; live state is
    /// then left as it is, and the journal kept.
    @discardableResult
    public func recover() throws -> Recovery {
        guard let records = try journal.read() else { return Recovery(action: .none) }
        guard let begin = records.first?.begin else {
            // An empty journal: the begin record never became durable, so nothing was changed.
            try journal.remove()
            return Recovery(action: .none)
        }
        let kinds = Set(records.map(\.kind))
        let last = records.last?.label
        let failedVerification = records.first { $0.kind == .verificationFailed }

        if kinds.contains(.committed) || kinds.contains(.rolledBack) {
            try journal.remove()
            return Recovery(action: .finished, revision: begin.revision, lastRecord: last)
        }
        if kinds.contains(.verified) {
            var metadata = try cluster.metadata()
            metadata.appliedRevision = begin.revision
            try cluster.writeMetadata(metadata)
            try record(JournalRecord(kind: .committed, reason: "committed by recovery"))
            try journal.remove()
            return Recovery(action: .rolledForward, revision: begin.revision, lastRecord: last)
        }
        for image in begin.before.reversed() {
            try cluster.restore(image.ref, to: image.object)
        }
        if let failedVerification {
            var metadata = try cluster.metadata()
            metadata.markBad(begin.revision, reason: "verification failed: \(failedVerification.reason ?? "")")
            try cluster.writeMetadata(metadata)
        }
        try record(JournalRecord(kind: .rolledBack, reason: "undone by recovery after an interruption at \(last ?? "begin")"))
        try journal.remove()
        return Recovery(action: .rolledBack, revision: begin.revision, lastRecord: last)
    }
}
