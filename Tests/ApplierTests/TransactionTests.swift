import Applier
import Cluster
import Foundation
import Manifests
import Planner
import RouteModel
import Testing

/// The transaction: every failure leaves live state exactly as before, byte for byte.
struct TransactionTests {
    /// A state directory holding revision A, and its inventory bytes.
    static func seeded() async throws -> (StateDirectory, Data) {
        let state = try StateDirectory()
        let outcome = try await state.apply(Fixture.desired(Fixture.a, revision: "rev-a"))
        #expect(outcome.result == .applied, "\(outcome)")
        return (state, try state.inventory())
    }

    @Test func planFromAToBTouchesEveryWave() async throws {
        let (state, _) = try await Self.seeded()
        defer { state.remove() }
        let live = try PlanInput(live: try state.store().list(), revision: "rev-a", table: RouteTable())
        let plan = Planner.plan(live: live, desired: Fixture.desired(Fixture.b, revision: "rev-b"))
        #expect(Set(plan.objects.map(\.wave)) == Set(ObjectChange.Wave.allCases))
        #expect(plan.count(.create) == 3 && plan.count(.update) == 2 && plan.count(.prune) == 1)
    }

    @Test func appliesAndRecordsTheRevision() async throws {
        let (state, before) = try await Self.seeded()
        defer { state.remove() }
        let gateway = MemoryGateway(current: "rev-a")
        let outcome = try await state.apply(Fixture.desired(Fixture.b, revision: "rev-b"), gateway: gateway)
        #expect(outcome.result == .applied)
        #expect(outcome.stepsApplied == 6)
        #expect(outcome.summary.created == 3 && outcome.summary.pruned == 1)
        #expect(outcome.checks == [ApplyOutcome.CheckReport(name: "endpoints", passed: true)])
        #expect(gateway.current == "rev-b")
        let store = try state.store()
        #expect(try store.metadata().appliedRevision == "rev-b")
        #expect(try state.inventory() != before)
        #expect(try store.get(ObjectRef(group: "", kind: "Secret", namespace: "shop", name: "old")) == nil)
        #expect(try store.get(ObjectRef(group: "", kind: "Service", namespace: "shop", name: "api"))?.revision == "rev-b")
        #expect(try store.get(ObjectRef(group: "", kind: "Service", namespace: "shop", name: "web"))?.revision == "rev-a")
        #expect(!FileManager.default.fileExists(atPath: state.journalPath))

        // The same commit again: nothing to do.
        let again = try await state.apply(Fixture.desired(Fixture.b, revision: "rev-b"))
        #expect(again.result == .applied || again.result == .unchanged)
        #expect(again.stepsApplied == 0)
    }

    @Test(arguments: 1...6)
    func failureAtClusterStepRestoresEverything(step: Int) async throws {
        let (state, before) = try await Self.seeded()
        defer { state.remove() }
        let gateway = MemoryGateway(current: "rev-a")
        let faulty = FaultyCluster(try state.store(), failAt: step)
        let desired = Fixture.desired(Fixture.b, revision: "rev-b")
        let outcome = try await state.apply(desired, cluster: faulty, gateway: gateway)
        #expect(outcome.result == .rolledBack)
        #expect(outcome.stage == .cluster)
        #expect(outcome.stepsApplied == step - 1)
        #expect(outcome.failedObject != nil)
        #expect(outcome.reason?.contains("injected failure") == true)
        #expect(try state.inventory() == before, "live store differs after a failure at step \(step)")
        #expect(try state.store().metadata().appliedRevision == "rev-a")
        #expect(gateway.state.get.installs == 0, "the gateway must not swap before the cluster step succeeded")
        #expect(gateway.current == "rev-a")
        #expect(!FileManager.default.fileExists(atPath: state.journalPath))
    }

    @Test func gatewayInstallFailureRestoresTheCluster() async throws {
        let (state, before) = try await Self.seeded()
        defer { state.remove() }
        let outcome = try await state.apply(
            Fixture.desired(Fixture.b, revision: "rev-b"), gateway: MemoryGateway(current: "rev-a", failInstall: true))
        #expect(outcome.result == .rolledBack)
        #expect(outcome.stage == .gateway)
        #expect(outcome.stepsApplied == 6)
        #expect(!outcome.markedBad)
        #expect(try state.inventory() == before)
        #expect(try state.store().metadata().appliedRevision == "rev-a")
    }

    @Test func failedVerificationRollsBothBackMarksBadAndANewerCommitApplies() async throws {
        let (state, before) = try await Self.seeded()
        defer { state.remove() }
        let gateway = MemoryGateway(current: "rev-a")
        let bad = Fixture.desired(Fixture.b, revision: "rev-b", endpoints: false)
        let outcome = try await state.apply(bad, gateway: gateway)
        #expect(outcome.result == .rolledBack)
        #expect(outcome.stage == .verification)
        #expect(outcome.markedBad)
        #expect(outcome.reason?.contains("without endpoints") == true)
        #expect(outcome.checks.first?.passed == false)
        #expect(gateway.current == "rev-a")
        #expect(try state.inventory() == before)
        let metadata = try state.store().metadata()
        #expect(metadata.appliedRevision == "rev-a")
        #expect(metadata.badRevision("rev-b") != nil)

        // Not retried, even by a fresh applier (a restart): the mark is in the store.
        let retry = try await state.apply(bad, gateway: gateway)
        #expect(retry.result == .refused)
        #expect(retry.reason?.contains("marked bad") == true)
        #expect(gateway.state.get.installs == 1)
        #expect(try state.inventory() == before)

        // A newer commit is applied.
        let fixed = try await state.apply(Fixture.desired(Fixture.c, revision: "rev-c"), gateway: gateway)
        #expect(fixed.result == .applied)
        #expect(gateway.current == "rev-c")
        #expect(try state.store().metadata().appliedRevision == "rev-c")
    }

    @Test func aNewerCommitSupersedesAWaitingVerification() async throws {
        let (state, before) = try await Self.seeded()
        defer { state.remove() }
        let newer = Box(false)
        let polls = Box(0)
        // A check that waits for its signal; the "newer commit" arrives while it waits.
        let waiting = ClosureCheck(name: "probe") { context in
            while true {
                if await context.isSuperseded() { return .superseded }
                polls.set { $0 += 1 }
                if polls.get == 3 { newer.set { $0 = true } }
                await Task.yield()
            }
        }
        let gateway = MemoryGateway(current: "rev-a")
        let outcome = try await state.apply(
            Fixture.desired(Fixture.b, revision: "rev-b"), gateway: gateway, checks: [waiting], isSuperseded: { newer.get })
        #expect(outcome.result == .superseded)
        #expect(!outcome.markedBad)
        #expect(gateway.current == "rev-a")
        #expect(try state.inventory() == before)
        #expect(try state.store().metadata().badRevision("rev-b") == nil)
    }

    @Test func pruningEverythingNeedsAllowEmpty() async throws {
        let (state, before) = try await Self.seeded()
        defer { state.remove() }
        let empty = PlanInput(revision: "rev-empty", manifests: ManifestSet(), table: RouteTable())
        let refused = try await state.apply(empty)
        #expect(refused.result == .refused)
        #expect(refused.stage == .plan)
        #expect(refused.reason?.contains("--allow-empty") == true)
        #expect(refused.summary.prunesEverything)
        #expect(try state.inventory() == before)
        #expect(!FileManager.default.fileExists(atPath: state.journalPath))

        let allowed = try await state.apply(empty, allowEmpty: true)
        #expect(allowed.result == .applied)
        #expect(try state.store().list().isEmpty)
    }

    @Test func corruptJournalIsAClearErrorAndChangesNothing() async throws {
        let (state, before) = try await Self.seeded()
        defer { state.remove() }
        try FileManager.default.createDirectory(atPath: state.journalDirectory, withIntermediateDirectories: true)
        try Data("{\"kind\":\"step\",\"step\":1}\n".utf8).write(to: URL(fileURLWithPath: state.journalPath))
        let applier = Applier(cluster: try state.store(), gateway: MemoryGateway(), journalDirectory: state.journalDirectory)
        let error = #expect(throws: JournalError.self) { try applier.recover() }
        #expect(error?.description.contains("not begin") == true)
        #expect(try state.inventory() == before)
    }
}
