import Dispatch
import Foundation
import GitSource
import Logging
import NIOConcurrencyHelpers
import Pipeline
import RouteModel

/// What one sync learns on the way, beside its outcome: step durations, the commit's subject, failing route tests.
/// Filled by `prepare` on its thread and read after it returns.
final class AttemptContext: Sendable {
    struct Details {
        var durations: [String: Double] = [:]
        var subject: String?
        var failingTests: [String] = []
    }

    let details = NIOLockedValueBox(Details())
    let started = DispatchTime.now()

    /// Runs `body` and adds its wall time, in milliseconds, to `step`.
    func time<T>(_ step: String, _ body: () throws -> T) rethrows -> T {
        let start = DispatchTime.now()
        defer {
            let ms = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6
            details.withLockedValue { $0.durations[step, default: 0] += ms }
        }
        return try body()
    }

    func add(_ step: String, since start: DispatchTime) {
        let ms = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6
        details.withLockedValue { $0.durations[step, default: 0] += ms }
    }

    /// The refusal of a revision that is not acceptable: its errors, then its failing route tests, all located.
    func refuse(_ revision: String, _ desired: DesiredState) -> GatewayAgent.SyncOutcome {
        let tests = desired.routeTestFailures.map(\.description)
        details.withLockedValue { $0.failingTests = tests }
        return .refused(sha: revision, diagnostics: desired.diagnostics.errors.map(\.description) + tests)
    }

    /// `2 errors, 1 failing route test`.
    func refusalSummary(_ diagnostics: [String]) -> String {
        let tests = details.withLockedValue { $0.failingTests.count }
        let errors = diagnostics.count - tests
        var parts: [String] = []
        if errors > 0 || tests == 0 { parts.append("\(errors) error\(errors == 1 ? "" : "s")") }
        if tests > 0 { parts.append("\(tests) failing route test\(tests == 1 ? "" : "s")") }
        return parts.joined(separator: ", ")
    }

    var elapsedMilliseconds: Double { Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e6 }
}

extension GatewayAgent {
    /// The ledger, when the agent has a state directory to keep it in.
    var ledger: Ledger? { configuration.repository.stateDirectory.map { Ledger(stateDirectory: $0) } }

    /// Turns a finished attempt into its record; nil for an unchanged tip, which is not an attempt.
    ///
    /// For a revision that reached the apply step, the result is what the apply step left in `status`
    /// (`attemptedResult`, `message`), so an apply that rolls back is recorded as such without this code knowing how.
    func attemptRecord(
        _ outcome: SyncOutcome, trigger: SyncTrigger, context: AttemptContext, previous: String?,
        previousTable: RouteTable?, time: Date
    ) -> AttemptRecord? {
        let details = context.details.withLockedValue { $0 }
        var durations = details.durations.mapValues { ($0 * 1000).rounded() / 1000 }
        durations["total"] = (context.elapsedMilliseconds * 1000).rounded() / 1000
        var record = AttemptRecord(
            time: time, revision: nil, branch: configuration.repository.branch, previous: previous, trigger: trigger,
            result: .failed, durations: durations, subject: details.subject)
        switch outcome {
        case .unchanged:
            return nil
        case .failed(let message):
            record.reasons = [message]
        case .refused(let sha, let diagnostics):
            record.revision = sha
            record.result = .refused
            let tests = Set(details.failingTests)
            record.reasons = diagnostics.filter { !tests.contains($0) }
            record.failingTests = details.failingTests.isEmpty ? nil : details.failingTests
        case .ready(let sha, _, let table, _):
            let status = self.status
            record.revision = sha
            record.result = status.attemptedResult.map { AttemptRecord.Result(rawValue: $0.rawValue) } ?? .applied
            if record.result != .applied, let message = status.message { record.reasons = [message] }
            record.routes = AttemptRecord.ChangeCounts(routesFrom: previousTable, to: table)
            // The transaction's own plan counts the objects (the route counts above compare tables).
            if let apply = lastApply, apply.revision == sha {
                let plan = apply.summary
                record.objects = AttemptRecord.ChangeCounts(added: plan.created, removed: plan.pruned, changed: plan.updated)
            }
        }
        return record
    }

    /// Keeps the record in the ledger and the commit's note (then pushes notes when asked), then in the status: once
    /// `GET /revision` shows an attempt, its ledger line is on disk. Failures to record are logged, never fatal: the
    /// audit trail must not stop routing.
    func record(_ record: AttemptRecord) async {
        defer { state.withLockedValue { $0.status.lastAttempt = record } }
        logger.info(
            "attempt recorded",
            metadata: [
                "revision": "\(record.revision ?? "-")", "result": "\(record.result)", "trigger": "\(record.trigger.description)",
            ])
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            // File and libgit2 I/O blocks: keep it off the cooperative pool.
            DispatchQueue.global().async {
                self.persist(record)
                continuation.resume()
            }
        }
    }

    private func persist(_ record: AttemptRecord) {
        if let ledger {
            do {
                try ledger.append(record)
            } catch {
                logger.error("cannot write the ledger", metadata: ["error": "\(error)"])
            }
        }
        // Notes go on commits; a failed fetch or a plain directory has none.
        guard let sha = record.revision, !sha.contains("@"), !sha.contains(":") else { return }
        do {
            let repository = try source.open()
            try repository.appendNoteLine(to: sha, namespace: Self.notesNamespace, line: record.noteLine)
            if configuration.pushNotes && source.isRemote {
                let ref = "refs/notes/\(Self.notesNamespace)"
                try repository.push(refspecs: ["\(ref):\(ref)"], credentials: configuration.repository.credentials)
            }
        } catch {
            logger.warning("cannot record the attempt as a git note", metadata: ["revision": "\(sha)", "error": "\(error)"])
        }
    }

    static let notesNamespace = "gitway"
}
