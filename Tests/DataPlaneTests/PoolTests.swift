import DataPlane
import Dispatch
import Foundation
import NIOConcurrencyHelpers
import RouteModel
import Testing

/// Upstream pools: ready before a revision goes live, and bounded per endpoint.
@Suite(.serialized)
struct PoolTests {
    /// Installing a revision opens a connection to each new endpoint on every event loop before the
    /// swap; endpoints the previous revision already had are not dialled again.
    @Test func newBackendsArePooledBeforeTheSwap() async throws {
        let a = try BackendProcess(name: "a")
        let b = try BackendProcess(name: "b")
        let proxy = try await ProxyFixture()
        #expect(await proxy.plane.metrics().idleUpstreamConnections == 0)
        await proxy.plane.install(makeTable(routes: [("t", .prefix("/"), "a")], clusters: ["a": [a.port]]))
        // ProxyFixture runs two event loops: one warm connection each, before install returned.
        #expect(await proxy.plane.metrics().idleUpstreamConnections == 2)
        await proxy.plane.install(
            makeTable(routes: [("t", .prefix("/"), "a"), ("u", .prefix("/"), "b")], clusters: ["a": [a.port], "b": [b.port]]))
        #expect(await proxy.plane.metrics().idleUpstreamConnections == 4)
        // The first request of the revision finds a pooled connection.
        let r = try RawClient(port: proxy.port).get("/", host: "u")
        #expect(r.header("x-backend-name") == "b")
        #expect(await proxy.plane.metrics().upstreamConnectFailures == 0)
        await proxy.shutdown()
    }

    /// With a limit of one connection per endpoint and loop, concurrent requests wait for the
    /// connection to come free instead of opening more; all of them succeed.
    @Test func connectionLimitQueuesRequests() async throws {
        let a = try BackendProcess(name: "a")
        var configuration = DataPlaneConfiguration()
        configuration.maxConnectionsPerEndpoint = 1
        let proxy = try await ProxyFixture(configuration: configuration)
        await proxy.plane.install(makeTable(routes: [("t", .prefix("/"), "a")], clusters: ["a": [a.port]]))
        let results = NIOLockedValueBox<[RawClient.Response]>([])
        let port = proxy.port
        let group = DispatchGroup()
        for _ in 0..<6 {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                if let r = try? RawClient(port: port).get("/delay/200", host: "t") { results.withLockedValue { $0.append(r) } }
            }
        }
        await withCheckedContinuation { c in
            DispatchQueue.global().async {
                group.wait(); c.resume()
            }
        }
        let responses = results.withLockedValue { $0 }
        #expect(responses.count == 6)
        #expect(responses.allSatisfy { $0.status == 200 })
        // At most one upstream connection per loop (two loops) carried all six requests.
        let remotes = Set(responses.compactMap { $0.echo?["remote"] as? String })
        #expect(remotes.count <= 2, "upstream connections used: \(remotes)")
        await proxy.shutdown()
    }
}
