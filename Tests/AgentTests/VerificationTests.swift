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
        let metrics = try await harness.request("GET", "/metrics").body
        #expect(metrics.contains("gitway_rollback_total{stage=\"verification\"} 1"), "\(metrics)")
        #expect(metrics.contains("gitway_syncs_total{result=\"rolledBack\"} 1"))
    }
}

extension VerificationTests {
    static func files(endpointPort: Int) -> [String: [UInt8]] {
        var files = Routing.files(
            tests: """
                tests:
                  - name: health answers
                    request: {host: shop.example.com, path: /healthz}
                    expect: {backend: web, status: 200}

                """)
        files["routes/endpoints.yaml"] = Array(
            """
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
            addressType: IPv4
            ports: [{port: \(endpointPort)}]
            endpoints: [{addresses: ["127.0.0.1"], conditions: {ready: true}}]

            """.utf8)
        return files
    }

    /// `--verify-probes`: a route test that passes offline but whose backend does not answer as
    /// declared when sent for real rolls the revision back.
    @Test func probesSendTheRouteTestsThroughTheGateway() async throws {
        let harness = try await AgentHarness(secret: nil) { $0.verifyProbes = true }
        defer { Task { await harness.stop() } }
        let agent = harness.agent
        // The admin server answers GET /healthz with 200: it serves as a live backend here.
        let live = try harness.origin.commit(files: Self.files(endpointPort: harness.adminPort), message: "live backend\n")
        #expect(try await harness.request("POST", "/sync").status == 202)
        try await harness.waitFor("the probed revision to go live") { agent.status.revision == live }

        let dead = try harness.origin.commit(files: Self.files(endpointPort: try AgentHarness.deadPort()), message: "dead backend\n")
        #expect(try await harness.request("POST", "/sync").status == 202)
        try await harness.waitFor("the dead backend's revision to be judged") {
            agent.status.attempted == dead && agent.status.attemptedResult != nil && agent.status.attemptedResult != .applied
        }
        #expect(agent.status.attemptedResult == .rolledBack)
        #expect(agent.status.revision == live)
        #expect(
            agent.status.message?.contains("probe \"health answers\": expected status 200, got 502") == true,
            "\(agent.status.message ?? "-")")
    }
}

extension AgentHarness {
    /// A loopback port nothing listens on.
    static func deadPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw TestFailure("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
