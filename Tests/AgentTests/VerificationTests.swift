import Agent
import Foundation
import Testing

/// Verification by live traffic (`--verify-window`): the routes a revision changed are watched after
/// the swap, and too many 5xx answers roll the revision back.
@Suite(.serialized)
struct VerificationTests {
    @Test func errorRateWatchRollsBackARevisionWhoseChangedRoutesFail() async throws {
        let harness = try await AgentHarness(secret: nil) { configuration in
            configuration.errorRateWatch = ErrorRateWatchSettings(windowSeconds: 1.5, maximumRatio: 0.5, minimumRequests: 5)
        }
        defer { Task { await harness.stop() } }
        let agent = harness.agent
        #expect(agent.status.revision == harness.firstCommit)

        // A changed route that nobody calls during the window: nothing proves it bad, it stays.
        let quiet = try harness.origin.commit(
            files: Routing.files(backend: "api", tests: Routing.rootGoesToWeb.replacingOccurrences(of: "web", with: "api")),
            message: "to api\n")
        #expect(try await harness.request("POST", "/sync").status == 202)
        try await harness.waitFor("the quiet revision to pass its window") { agent.status.revision == quiet }

        // A changed route that answers 503 (its service has no endpoints) to everything during the window.
        let failing = try harness.origin.commit(files: Routing.files(backend: "web"), message: "back to web\n")
        #expect(try await harness.request("POST", "/sync").status == 202)
        let port = try #require(agent.proxyAddress?.port)
        try await harness.waitFor("the failing revision to be judged", timeout: 30) {
            // Absolute form names the host (the helper always sends its own Host line).
            _ = try? HTTPResult.send(port: port, method: "GET", path: "http://shop.example.com/", headers: [:], body: [])
            return agent.status.attempted == failing && agent.status.attemptedResult != nil
                && agent.status.attemptedResult != .applied
        }
        #expect(agent.status.attemptedResult == .rolledBack)
        #expect(agent.status.revision == quiet)
        #expect(agent.status.message?.contains("answered 5xx") == true, "\(agent.status.message ?? "-")")
        #expect(agent.lastApply?.markedBad == true)
    }
}
