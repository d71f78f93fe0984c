import Agent
import Foundation
import RouteModel
import Testing

@Suite struct TriggerTests {
    @Test func pollDelayStaysWithinTenPercent() {
        var seen = Set<Int>()
        for _ in 0..<1000 {
            let delay = PollSchedule.delay(seconds: 30, jitter: 0.1)
            #expect(delay >= 27 && delay <= 33)
            seen.insert(Int(delay))
        }
        #expect(seen.count > 3, "the delay must vary between polls")
        #expect(PollSchedule.delay(seconds: 30, jitter: 0) == 30)
    }

    @Test func receiverIgnoresShortAndForeignRefs() {
        let receiver = WebhookReceiver(secret: nil, branch: "release/1.x")
        func decide(_ ref: String) -> WebhookDecision.Result {
            receiver.receive(provider: .generic, WebhookRequest(headers: [:], body: Array(#"{"ref":"\#(ref)"}"#.utf8))).result
        }
        #expect(decide("refs/heads/release/1.x") == .queued)
        #expect(decide("release/1.x") == .ignored)
        #expect(decide("refs/tags/release/1.x") == .ignored)
        #expect(decide("refs/heads/release/1.x-rc") == .ignored)
        // Generic: an empty body or one without a ref asks for a sync.
        #expect(receiver.receive(provider: .generic, WebhookRequest(headers: [:], body: [])).result == .queued)
        #expect(receiver.receive(provider: .generic, WebhookRequest(headers: [:], body: Array("{}".utf8))).result == .queued)
        #expect(receiver.receive(provider: .generic, WebhookRequest(headers: [:], body: Array("[1]".utf8))).result == .malformed)
        #expect(
            receiver.receive(provider: .github, WebhookRequest(headers: ["X-GitHub-Event": "push"], body: Array("{}".utf8))).result
                == .malformed)
    }

    @Test func secretIsRedactedInDescriptions() {
        let secret = WebhookSecret("  s3cr3t\n")
        #expect("\(secret)" == "<redacted>")
        #expect(!secret.isEmpty)
        #expect(WebhookSecret(" \n").isEmpty)
    }

    @Test func routeChangeCountsIgnoreSourceLocations() {
        func route(_ path: String, to cluster: String, line: Int) -> Route {
            Route(
                name: "shop/shop#r0.p\(line)", match: RouteMatch(path: .prefix(path)), action: .forward(to: cluster),
                source: RouteSource(object: "Ingress/shop/shop", location: SourceLocation(file: "a.yaml", line: line, column: 1)))
        }
        let old = RouteTable(virtualHosts: [
            VirtualHost(host: "shop.example.com", routes: [route("/", to: "web", line: 1), route("/api", to: "api", line: 2)])
        ])
        let moved = RouteTable(virtualHosts: [
            VirtualHost(host: "shop.example.com", routes: [route("/", to: "web", line: 10), route("/api", to: "api", line: 20)])
        ])
        #expect(AttemptRecord.ChangeCounts(routesFrom: old, to: moved) == .init())
        let changed = RouteTable(virtualHosts: [
            VirtualHost(host: "shop.example.com", routes: [route("/", to: "api", line: 1), route("/new", to: "web", line: 3)])
        ])
        #expect(AttemptRecord.ChangeCounts(routesFrom: old, to: changed) == .init(added: 1, removed: 1, changed: 1))
        #expect(AttemptRecord.ChangeCounts(routesFrom: nil, to: old) == .init(added: 2))
        #expect(AttemptRecord.ChangeCounts(added: 1, removed: 2, changed: 3).summary == "+1 -2 ~3")
    }
}
