import Cluster
import Foundation
import Planner

/// The write-ahead journal of the transaction in progress: `<state-dir>/journal/transaction.jsonl`,
/// one JSON record per line, each fsync'd before the step it announces is considered done.
///
/// The first record (`begin`) holds everything needed to undo the transaction without any other
/// input: the revision, the plan's digest, the steps, and the before-image of every object a step
/// will touch (its stored document, or absent). Recovery reads the records back and decides from the
/// last one reached (`Applier.recover()`). A finished transaction's journal is removed; the ledger,
/// not the journal, is the history.
public struct Journal: Sendable {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    public var path: String { directory + "/transaction.jsonl" }

    /// The records written so far, or nil when no transaction is in progress. A torn last line (a
    /// crash while appending) is ignored: its step was never announced as done.
    public func read() throws -> [JournalRecord]? {
        guard let bytes = try DurableFile.read(path) else { return nil }
        var records: [JournalRecord] = []
        for (index, line) in DurableFile.lines(bytes).enumerated() {
            do {
                records.append(try JSONDecoder().decode(JournalRecord.self, from: Data(line)))
            } catch {
                throw JournalError(path: path, reason: "record \(index + 1) does not decode (\(error))")
            }
        }
        guard let first = records.first else { return [] }
        guard first.kind == .begin, first.begin != nil else {
            throw JournalError(path: path, reason: "the first record is \(first.kind.rawValue), not begin")
        }
        return records
    }

    func append(_ record: JournalRecord) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        try DurableFile.append([UInt8](try encoder.encode(record)) + [UInt8(ascii: "\n")], to: path)
    }

    func remove() throws { try DurableFile.remove(path) }
}

/// The journal cannot be read: recovery stops rather than guess which revision live state is.
public struct JournalError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var reason: String

    public var description: String { "\(path): error: transaction journal is corrupt: \(reason)" }
}

/// One journal record. `kind` says which; `begin`, `step` and `reason` are set for the kinds that carry them.
public struct JournalRecord: Sendable, Codable, Equatable {
    /// In the order a transaction writes them. `verificationFailed` and `rolledBack` replace the
    /// remaining ones when something fails.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// The transaction, its steps and before-images; nothing is changed yet.
        case begin
        /// Cluster step `step` (1-based) is done.
        case step
        /// Every cluster step is done.
        case clusterCommitted
        /// The data plane serves the new revision.
        case gatewaySwapped
        /// Every verification check passed.
        case verified
        /// A check failed (`reason`): the commit is bad and everything is being rolled back.
        case verificationFailed
        /// The revision is live and recorded as applied. Terminal.
        case committed
        /// Everything touched is back as it was. Terminal.
        case rolledBack
    }

    public var kind: Kind
    public var begin: Begin?
    public var step: Int?
    public var reason: String?

    public init(kind: Kind, begin: Begin? = nil, step: Int? = nil, reason: String? = nil) {
        self.kind = kind
        self.begin = begin
        self.step = step
        self.reason = reason
    }

    /// `step:3`, `begin`: how tests and the crash hook name a record.
    public var label: String { step.map { "\(kind.rawValue):\($0)" } ?? kind.rawValue }

    public struct Begin: Sendable, Codable, Equatable {
        public var revision: String
        /// The revision live state was when the transaction started (`Plan.base`).
        public var base: String
        /// `fnv1a64:<hex>` of the plan's JSON: which plan this journal is running.
        public var planDigest: String
        public var steps: [Step]
        /// One per step, in step order.
        public var before: [BeforeImage]
        /// Whether the data plane is part of this transaction.
        public var gateway: Bool
    }

    public struct Step: Sendable, Codable, Equatable {
        public var action: ObjectChange.Action
        public var ref: ObjectRef
    }

    /// An object as it was before the transaction: its stored document, or nil when it did not exist.
    public struct BeforeImage: Sendable, Codable, Equatable {
        public var ref: ObjectRef
        public var object: LiveObject?
    }
}
