import DataPlane
import Foundation
import NIOCore
import NIOHTTP1
import Testing

@Suite(.serialized)
struct HTTP2DebugTests {
    @Test func stress() async throws {
        let a = try BackendProcess(name: "a")
        let b = try BackendProcess(name: "b")
        var configuration = DataPlaneConfiguration()
        configuration.readTimeout = .seconds(3)
        configuration.idleTimeout = .seconds(5)
        let proxy = try await ProxyFixture(configuration: configuration)
        let certificates = try TestCertificates()
        let ca = try certificates.issue("a", dnsName: "a.test")
        let tlsPort = try await proxy.plane.bindTLS(host: "127.0.0.1", port: 0).port!
        var table = makeTable(routes: [("a.test", .prefix("/a"), "a"), ("a.test", .prefix("/b"), "b")], clusters: ["a": [a.port], "b": [b.port]])
        table.tls = [tlsBinding("a.test", "default/a")]
        await proxy.plane.install(table, certificates: ["default/a": ca.pair])
        for round in 0..<20 {
            let client = try await HTTP2TestClient.secure(group: proxy.group, port: tlsPort, serverName: "a.test", trust: certificates.allCertificates)
            _ = try await client.request(.GET, "/a/first", host: "a.test")
            let rs = try await withThrowingTaskGroup(of: (Int, Result<CollectedResponse, Error>).self) { group in
                for i in 0..<40 {
                    group.addTask {
                        do { return (i, .success(try await client.request(.POST, (i % 2 == 0 ? "/a/" : "/b/") + "\(i)", host: "a.test", body: "body \(i)"))) }
                        catch { return (i, .failure(error)) }
                    }
                }
                var out: [Int: Result<CollectedResponse, Error>] = [:]
                for try await (i, r) in group { out[i] = r }
                return out
            }
            for (i, r) in rs.sorted(by: { $0.key < $1.key }) {
                switch r {
                case .success(let r): if r.head.status != .ok { print("round \(round) \(i): \(r.head.status) \(r.text)") }
                case .failure(let e): print("round \(round) \(i): error \(e)")
                }
            }
            await client.close()
        }
        await proxy.shutdown()
    }
}
