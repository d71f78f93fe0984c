import Applier
import Cluster
import Foundation
import Manifests
import Planner
import RouteModel
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Crashes at every journal record, simulated and real: after `recover()` live state is exactly the
/// before or the after revision.
struct RecoveryTests {
    /// Journal records of A → B that succeeds, and of A → B that fails verification.
    static let successRecords = ["begin"] + (1...6).map { "step:\($0)" } + ["clusterCommitted", "gatewaySwapped", "verified", "committed"]
    static let failureRecords =
        ["begin"] + (1...6).map { "step:\($0)" } + ["clusterCommitted", "gatewaySwapped", "verificationFailed", "rolledBack"]

    /// The inventory bytes of A and of B, from clean runs.
    static func references() async throws -> (before: Data, after: Data) {
        let (state, before) = try await TransactionTests.seeded()
        defer { state.remove() }
        let outcome = try await state.apply(Fixture.desired(Fixture.b, revision: "rev-b"))
        #expect(outcome.result == .applied)
        return (before, try state.inventory())
    }

    @Test func journalRecordsAreTheOnesListed() async throws {
        for (endpoints, expected) in [(true, Self.successRecords), (false, Self.failureRecords)] {
            let (state, _) = try await TransactionTests.seeded()
            defer { state.remove() }
            let seen = Box<[String]>([])
            _ = try await state.apply(
                Fixture.desired(Fixture.b, revision: "rev-b", endpoints: endpoints),
                hook: { record in seen.set { $0.append(record.label) } })
            #expect(seen.get == expected)
        }
    }

    @Test(arguments: successRecords)
    func crashDuringASuccessfulTransaction(at label: String) async throws {
        let (before, after) = try await Self.references()
        let (state, _) = try await TransactionTests.seeded()
        defer { state.remove() }
        await #expect(throws: CrashForTest.self) {
            _ = try await state.apply(
                Fixture.desired(Fixture.b, revision: "rev-b"), hook: { if $0.label == label { throw CrashForTest() } })
        }
        #expect(FileManager.default.fileExists(atPath: state.journalPath))

        // A restart: fresh store and applier over the same directory.
        let store = try state.store()
        let recovery = try Applier(cluster: store, gateway: MemoryGateway(), journalDirectory: state.journalDirectory).recover()
        let forward = label == "verified" || label == "committed"
        #expect(try state.inventory() == (forward ? after : before), "crash at \(label): \(recovery)")
        #expect(try store.metadata().appliedRevision == (forward ? "rev-b" : "rev-a"))
        #expect(try store.metadata().badRevisions.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: state.journalPath))
        #expect(recovery.action == (label == "committed" ? .finished : forward ? .rolledForward : .rolledBack))

        // Recovery is idempotent, and the next attempt proceeds normally.
        #expect(try Applier(cluster: store, gateway: MemoryGateway(), journalDirectory: state.journalDirectory).recover().action == .none)
        let next = try await state.apply(Fixture.desired(Fixture.b, revision: "rev-b"))
        #expect(next.result == .applied)
        #expect(try state.inventory() == after)
    }

    @Test(arguments: failureRecords)
    func crashDuringAFailedVerification(at label: String) async throws {
        let (before, _) = try await Self.references()
        let (state, _) = try await TransactionTests.seeded()
        defer { state.remove() }
        await #expect(throws: CrashForTest.self) {
            _ = try await state.apply(
                Fixture.desired(Fixture.b, revision: "rev-b", endpoints: false),
                hook: { if $0.label == label { throw CrashForTest() } })
        }
        let store = try state.store()
        try Applier(cluster: store, gateway: MemoryGateway(), journalDirectory: state.journalDirectory).recover()
        #expect(try state.inventory() == before, "crash at \(label)")
        #expect(try store.metadata().appliedRevision == "rev-a")
        // Once the failure is journaled, the commit stays bad across the crash.
        let journaledFailure = label == "verificationFailed" || label == "rolledBack"
        #expect((try store.metadata().badRevision("rev-b") != nil) == journaledFailure)
    }

    @Test func tornLastRecordIsIgnored() async throws {
        let (before, _) = try await Self.references()
        let (state, _) = try await TransactionTests.seeded()
        defer { state.remove() }
        await #expect(throws: CrashForTest.self) {
            _ = try await state.apply(
                Fixture.desired(Fixture.b, revision: "rev-b"), hook: { if $0.label == "step:2" { throw CrashForTest() } })
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: state.journalPath))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"kind\":\"st".utf8))
        try handle.close()
        let recovery = try Applier(cluster: try state.store(), gateway: MemoryGateway(), journalDirectory: state.journalDirectory).recover()
        #expect(recovery.lastRecord == "step:2")
        #expect(try state.inventory() == before)
    }

    // MARK: A real process, killed

    static let probe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        .appendingPathComponent("gitway-crash-probe")

    static func runProbe(_ command: String, _ state: StateDirectory, crashAt: String? = nil) throws -> Process {
        let process = Process()
        process.executableURL = probe
        process.arguments = [command, state.path]
        var environment = ProcessInfo.processInfo.environment
        environment["GITWAY_TEST_CRASH_AT"] = crashAt
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process
    }

    @Test(arguments: ["step:3", "gatewaySwapped", "verified"])
    func sigkillMidTransactionThenRestart(at label: String) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.probe.path) else {
            Issue.record("\(Self.probe.path) not built; run `swift build --build-tests` first")
            return
        }
        // References: A alone, and A then B, from uninterrupted processes.
        let (refA, refB, state) = (try StateDirectory(), try StateDirectory(), try StateDirectory())
        defer { [refA, refB, state].forEach { $0.remove() } }
        #expect(try Self.runProbe("seed", refA).terminationStatus == 0)
        #expect(try Self.runProbe("seed", refB).terminationStatus == 0)
        #expect(try Self.runProbe("apply", refB).terminationStatus == 0)
        #expect(try refA.inventory() != refB.inventory())

        #expect(try Self.runProbe("seed", state).terminationStatus == 0)
        let killed = try Self.runProbe("apply", state, crashAt: label)
        #expect(killed.terminationReason == .uncaughtSignal)
        #expect(killed.terminationStatus == SIGKILL)
        #expect(FileManager.default.fileExists(atPath: state.journalPath))

        let store = try state.store()
        try Applier(cluster: store, gateway: MemoryGateway(), journalDirectory: state.journalDirectory).recover()
        let forward = label == "verified"
        #expect(try state.inventory() == (forward ? refB : refA).inventory(), "killed at \(label)")
        #expect(try store.metadata().appliedRevision == (forward ? "rev-b" : "rev-a"))
    }
}
