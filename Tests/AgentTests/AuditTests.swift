import Agent
import Foundation
import GitSource
import Testing

/// The reconcile loop's record keeping against real repositories: unchanged tips, refusals, ledger, notes.
@Suite(.serialized) struct AuditTests {
    @Test func unchangedTipCostsNoLoadAndNoRecord() async throws {
        let harness = try await AgentHarness()
        try await harness.waitUntilIdle()
        let loads = harness.agent.counters.loads
        let attempts = harness.agent.counters.attempts
        let records = try harness.ledger().count
        for _ in 0..<3 {
            #expect(try await harness.request("POST", "/sync").status == 202)
            try await harness.waitFor("a sync") { harness.agent.counters.attempts > attempts }
            try await harness.waitUntilIdle()
        }
        #expect(harness.agent.counters.attempts > attempts)
        #expect(harness.agent.counters.unchanged >= 1)
        #expect(harness.agent.counters.loads == loads, "an unchanged tip was loaded again")
        #expect(try harness.ledger().count == records, "an unchanged tip was recorded")
        let metrics = try await harness.request("GET", "/metrics")
        #expect(metrics.body.contains("gitway_revision_loads_total \(loads)"))
        await harness.stop()
    }

    @Test func commitWithFailingRouteTestIsRefusedAndRecorded() async throws {
        let harness = try await AgentHarness()
        let good = harness.firstCommit
        // The Ingress now sends / to api, but the route test still expects web.
        let bad = try harness.origin.commit(files: Routing.files(backend: "api"), message: "send root to api\n")
        harness.agent.requestSync()
        try await harness.waitFor("the refusal") { harness.agent.status.attempted == bad }
        try await harness.waitFor("the record") { harness.agent.status.lastAttempt?.revision == bad }

        let status = harness.agent.status
        #expect(status.revision == good, "the previous revision keeps serving")
        #expect(status.attemptedResult == .refused)
        #expect(status.message == "0 errors, 1 failing route test" || status.message == "1 failing route test")
        let located = try #require(status.diagnostics?.first)
        #expect(located.hasPrefix("routes/shop.routetest.yaml:"), "\(located)")
        #expect(located.contains("root goes to web"))

        // GET /revision says so too.
        let revision = try await harness.request("GET", "/revision")
        #expect(revision.body.contains("\"attempted\" : \"\(bad)\""))
        #expect(revision.body.contains("\"attemptedResult\" : \"refused\""))
        #expect(revision.body.contains("routes/shop.routetest.yaml:"))

        // The ledger: the start (applied), then the refusal with its failing test.
        let records = try harness.ledger()
        #expect(records.map(\.result) == [.applied, .refused])
        let refused = records[1]
        #expect(refused.revision == bad)
        #expect(refused.previous == good)
        #expect(refused.trigger.kind == .sync)
        #expect(refused.reasons.isEmpty)
        #expect(refused.failingTests?.count == 1)
        #expect(refused.subject == "send root to api")
        #expect(refused.durations["load"] != nil && refused.durations["fetch"] != nil && refused.durations["total"] != nil)
        #expect(records[0].trigger.kind == .start)
        #expect(records[0].routes == AttemptRecord.ChangeCounts(added: 1, removed: 0, changed: 0))

        // Not retried while the branch stays: a second sync is unchanged.
        let loads = harness.agent.counters.loads
        harness.agent.requestSync()
        try await harness.waitUntilIdle()
        #expect(harness.agent.counters.loads == loads)

        // A fix goes live; its route counts are against the live (first) revision, not the refused one.
        let fix = try harness.origin.commit(files: Routing.files(backend: "web", path: "/shop", tests: "tests: []\n"), message: "fix\n")
        harness.agent.requestSync()
        try await harness.waitFor("the fix") { harness.agent.status.revision == fix }
        try await harness.waitFor("the record") { harness.agent.status.lastAttempt?.revision == fix }
        let last = try #require(try harness.ledger().last)
        #expect(last.result == .applied)
        #expect(last.previous == good)
        #expect(last.routes == AttemptRecord.ChangeCounts(added: 1, removed: 1, changed: 0))
        await harness.stop()
    }

    @Test func attemptsAreNotesOnTheirCommitsWithoutSecretValues() async throws {
        let harness = try await AgentHarness()
        let bad = try harness.origin.commit(files: Routing.files(backend: "api"), message: "bad\n")
        harness.agent.requestSync()
        try await harness.waitFor("the record") { harness.agent.status.lastAttempt?.revision == bad }
        let cache = try harness.cache()
        let applied = try #require(try cache.note(on: harness.firstCommit, namespace: "gitway"))
        #expect(applied.contains(" gitway applied branch=main trigger=start"), "\(applied)")
        let refused = try #require(try cache.note(on: bad, namespace: "gitway"))
        #expect(refused.contains(" gitway refused "), "\(refused)")
        #expect(refused.contains("failing-tests=1"))
        #expect(refused.contains("at=routes/shop.routetest.yaml:"))
        #expect(refused.contains("previous=\(harness.firstCommit.prefix(12))"))

        // A second attempt on the same commit (after a restart, say) appends a line.
        let line = AttemptRecord(
            time: Date(), revision: bad, branch: "main", previous: nil, trigger: .poll, result: .refused
        ).noteLine
        try cache.appendNoteLine(to: bad, line: line)
        let twice = try #require(try cache.note(on: bad, namespace: "gitway"))
        #expect(twice.split(separator: "\n").count == 2)

        for note in [applied, refused] { #expect(!note.contains("topsecret-value-42")) }
        let ledger = try String(contentsOfFile: Ledger(stateDirectory: harness.state.path).path, encoding: .utf8)
        #expect(!ledger.contains("topsecret-value-42"))
        await harness.stop()
    }

    @Test func fetchFailuresAreRecordedAsFailed() async throws {
        let harness = try await AgentHarness()
        try harness.origin.deleteBranch("main")
        harness.agent.requestSync()
        try await harness.waitFor("the failure") { harness.agent.status.lastAttempt?.result == .failed }
        let record = try #require(try harness.ledger().last)
        #expect(record.result == .failed)
        #expect(record.revision == nil)
        #expect(record.reasons.first?.contains("main") == true, "\(record.reasons)")
        #expect(harness.agent.status.revision == harness.firstCommit)
        await harness.stop()
    }

    /// `--push-notes`: the notes reach the remote, so `git fetch origin refs/notes/gitway` shows them to everyone.
    @Test func notesArePushedToTheRemoteWhenAsked() async throws {
        let harness = try await AgentHarness(pushNotes: true)
        let pushed = try #require(try harness.origin.note(on: harness.firstCommit, namespace: "gitway"))
        #expect(pushed.contains(" gitway applied branch=main trigger=start"), "\(pushed)")
        let second = try harness.origin.commit(files: Routing.files(backend: "api"), message: "bad\n")
        harness.agent.requestSync()
        try await harness.waitFor("the record") { harness.agent.status.lastAttempt?.revision == second }
        #expect(try harness.origin.note(on: second, namespace: "gitway")?.contains(" gitway refused ") == true)
        await harness.stop()
    }

    @Test func withoutPushNotesTheRemoteHasNone() async throws {
        let harness = try await AgentHarness()
        #expect(try harness.origin.note(on: harness.firstCommit, namespace: "gitway") == nil)
        #expect(try harness.cache().note(on: harness.firstCommit, namespace: "gitway") != nil)
        await harness.stop()
    }
}
