import Agent
import Foundation
import GitSource
import Testing

/// Every provider's deliveries against the real admin server over loopback HTTP.
@Suite(.serialized) struct WebhookTests {
    static let providers = WebhookProvider.allCases

    @Test(arguments: providers)
    func deliveryOutcomes(provider: WebhookProvider) async throws {
        let harness = try await AgentHarness()
        let path = "/hooks/\(provider.rawValue)"
        let push = Delivery.pushBody(ref: "refs/heads/main")
        func post(_ body: [UInt8], _ headers: [String: String]) async throws -> HTTPResult {
            try await harness.request("POST", path, headers: headers, body: body)
        }

        // Unsigned and badly signed calls change nothing: move the branch first, then prove no sync picks it up.
        let second = try harness.origin.commit(files: Routing.files(backend: "api", tests: "tests: []\n"), message: "second\n")
        let attemptsBefore = harness.agent.counters.attempts
        let unsigned = try await post(push, Delivery.headers(provider, body: push, secret: nil))
        #expect(unsigned.status == 401, "\(unsigned.body)")
        let badlySigned = try await post(push, Delivery.headers(provider, body: push, secret: "not the secret"))
        #expect(badlySigned.status == 401, "\(badlySigned.body)")
        if provider != .gitlab {
            // A signature of other bytes: the right secret, a tampered body.
            var tampered = Delivery.headers(provider, body: push, secret: AgentHarness.secret)
            let other = Delivery.pushBody(ref: "refs/heads/other")
            tampered.merge(Delivery.headers(provider, body: other, secret: AgentHarness.secret)) { _, new in new }
            #expect(try await post(push, tampered).status == 401)
        }
        try await Task.sleep(nanoseconds: 200_000_000)
        #expect(harness.agent.counters.attempts == attemptsBefore)
        #expect(harness.agent.status.revision == harness.firstCommit)
        #expect(!unsigned.body.contains(AgentHarness.secret))

        // Another branch, and a tag named like the followed branch: verified, ignored.
        let otherBranch = Delivery.pushBody(ref: "refs/heads/feature")
        let ignoredBranch = try await post(otherBranch, Delivery.headers(provider, body: otherBranch, secret: AgentHarness.secret))
        #expect(ignoredBranch.status == 202)
        #expect(ignoredBranch.body.contains("\"ignored\""), "\(ignoredBranch.body)")
        let tag = Delivery.pushBody(ref: "refs/tags/main")
        let ignoredTag = try await post(tag, Delivery.headers(provider, body: tag, secret: AgentHarness.secret))
        #expect(ignoredTag.status == 202)
        #expect(ignoredTag.body.contains("\"ignored\"") && ignoredTag.body.contains("tag"), "\(ignoredTag.body)")
        try await Task.sleep(nanoseconds: 200_000_000)
        #expect(harness.agent.counters.attempts == attemptsBefore)

        // Oversized (cap 64 KiB in the harness) and malformed bodies.
        let huge = [UInt8](repeating: UInt8(ascii: " "), count: 200 * 1024)
        let oversized = try await post(huge, Delivery.headers(provider, body: huge, secret: AgentHarness.secret))
        #expect(oversized.status == 413)
        let garbage = Array("{\"ref\": refs/heads/main".utf8)
        let malformed = try await post(garbage, Delivery.headers(provider, body: garbage, secret: AgentHarness.secret))
        #expect(malformed.status == 400, "\(malformed.body)")

        // The valid push queues a sync that brings the new commit live.
        let valid = try await post(push, Delivery.headers(provider, body: push, secret: AgentHarness.secret))
        #expect(valid.status == 202)
        #expect(valid.body.contains("\"queued\""), "\(valid.body)")
        try await harness.waitFor("the pushed commit to be recorded") { harness.agent.status.lastAttempt?.revision == second }
        #expect(harness.agent.status.revision == second)
        let record = try #require(try harness.ledger().last)
        #expect(record.trigger.kind == .webhook)
        #expect(record.trigger.provider == provider.rawValue)

        // Metrics count deliveries by provider and result.
        let metrics = try await harness.request("GET", "/metrics")
        #expect(metrics.body.contains("gitway_webhook_requests_total{provider=\"\(provider.rawValue)\",result=\"unauthorized\"}"))
        #expect(metrics.body.contains("gitway_webhook_requests_total{provider=\"\(provider.rawValue)\",result=\"queued\"} 1"))
        #expect(metrics.body.contains("gitway_webhook_requests_total{provider=\"\(provider.rawValue)\",result=\"too_large\"} 1"))
        await harness.stop()
    }

    @Test func githubPingIsAnsweredAndOtherEventsIgnored() async throws {
        let harness = try await AgentHarness()
        let zen = Array(#"{"zen":"Keep it logically awesome.","hook_id":1}"#.utf8)
        let ping = try await harness.request(
            "POST", "/hooks/github", headers: Delivery.headers(.github, body: zen, secret: AgentHarness.secret, event: "ping"), body: zen)
        #expect(ping.status == 200)
        let issue = try await harness.request(
            "POST", "/hooks/github", headers: Delivery.headers(.github, body: zen, secret: AgentHarness.secret, event: "issues"), body: zen)
        #expect(issue.status == 202)
        #expect(issue.body.contains("ignored"))
        let gitlabTag = Delivery.pushBody(ref: "refs/tags/v1")
        let tagPush = try await harness.request(
            "POST", "/hooks/gitlab",
            headers: Delivery.headers(.gitlab, body: gitlabTag, secret: AgentHarness.secret, event: "Tag Push Hook"), body: gitlabTag)
        #expect(tagPush.status == 202)
        #expect(try await harness.request("POST", "/hooks/bitbucket", body: []).status == 404)
        #expect(try await harness.request("GET", "/hooks/github").status == 405)
        await harness.stop()
    }

    @Test func withoutASecretDeliveriesAreAccepted() async throws {
        let harness = try await AgentHarness(secret: nil)
        let second = try harness.origin.commit(files: Routing.files(backend: "api", tests: "tests: []\n"), message: "second\n")
        let push = Delivery.pushBody(ref: "refs/heads/main")
        let answer = try await harness.request(
            "POST", "/hooks/github", headers: Delivery.headers(.github, body: push, secret: nil), body: push)
        #expect(answer.status == 202)
        try await harness.waitFor("the pushed commit to go live") { harness.agent.status.revision == second }
        await harness.stop()
    }

    /// Push-to-live through a webhook: the poll is an hour, so only the webhook can bring the commit in.
    @Test func webhookBringsANewCommitLiveWithinASecond() async throws {
        let harness = try await AgentHarness(poll: 3600)
        let second = try harness.origin.commit(files: Routing.files(backend: "api", tests: "tests: []\n"), message: "second\n")
        let push = Delivery.pushBody(ref: "refs/heads/main")
        let start = Date()
        let answer = try await harness.request(
            "POST", "/hooks/github", headers: Delivery.headers(.github, body: push, secret: AgentHarness.secret), body: push)
        #expect(answer.status == 202)
        var live = false
        while Date().timeIntervalSince(start) < 5 {
            let revision = try await harness.request("GET", "/revision")
            if revision.body.contains("\"revision\" : \"\(second)\"") {
                live = true
                break
            }
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        let elapsed = Date().timeIntervalSince(start)
        #expect(live)
        #expect(elapsed < 1.0, "webhook to live took \(elapsed) s")
        await harness.stop()
    }

    /// N deliveries in a burst: one sync runs, at most one more follows (each sync is one fetch).
    @Test func burstsCoalesceIntoAtMostTwoFetches() async throws {
        let harness = try await AgentHarness()
        try await harness.waitUntilIdle()
        let before = harness.agent.counters.attempts
        let third = try harness.origin.commit(files: Routing.files(backend: "api", tests: "tests: []\n"), message: "burst\n")
        let push = Delivery.pushBody(ref: "refs/heads/main")
        let headers = Delivery.headers(.github, body: push, secret: AgentHarness.secret)
        let port = harness.adminPort
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try await HTTPResult.sendOffPool(port: port, method: "POST", path: "/hooks/github", headers: headers, body: push).status
                }
            }
            for try await status in group { #expect(status == 202) }
        }
        try await harness.waitFor("the pushed commit to go live") { harness.agent.status.revision == third }
        try await harness.waitUntilIdle()
        let syncs = harness.agent.counters.attempts - before
        #expect(syncs >= 1 && syncs <= 2, "20 webhooks caused \(syncs) syncs")
        await harness.stop()
    }
}
