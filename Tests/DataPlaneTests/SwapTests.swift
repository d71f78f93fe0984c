import DataPlane
import Dispatch
import Foundation
import NIOConcurrencyHelpers
import RouteModel
import Testing

/// Revisions swap atomically: in-flight requests finish on the snapshot they started with, new ones
/// take the new one, and a stream of swaps under load fails no request.
@Suite(.serialized)
struct SwapTests {
    @Test func inFlightRequestFinishesOnItsRevision() async throws {
        let old = try BackendProcess(name: "old")
        let new = try BackendProcess(name: "new")
        let proxy = try await ProxyFixture()
        await proxy.plane.install(makeTable(revision: "A", routes: [("t", .prefix("/"), "old")], clusters: ["old": [old.port]]))

        let slow = NIOLockedValueBox<RawClient.Response?>(nil)
        let port = proxy.port
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            slow.withLockedValue { $0 = try? RawClient(port: port).get("/delay/1500", host: "t") }
            done.signal()
        }
        // Wait until the slow request is inside the proxy, then swap.
        let deadline = Date().addingTimeInterval(10)
        while await proxy.plane.metrics().inFlight < 1 && Date() < deadline { try await Task.sleep(nanoseconds: 5_000_000) }
        #expect(await proxy.plane.metrics().inFlight == 1)
        await proxy.plane.install(makeTable(revision: "B", routes: [("t", .prefix("/"), "new")], clusters: ["new": [new.port]]))

        let fresh = try RawClient(port: proxy.port).get("/", host: "t")
        #expect(fresh.header("x-backend-name") == "new")
        await withCheckedContinuation { c in
            DispatchQueue.global().async {
                done.wait(); c.resume()
            }
        }
        let finished = slow.withLockedValue { $0 }
        #expect(finished?.status == 200)
        #expect(finished?.header("x-backend-name") == "old")
        await proxy.shutdown()
    }

    @Test func twoHundredSwapsUnderLoadFailNothing() async throws {
        let a = try BackendProcess(name: "a")
        let b = try BackendProcess(name: "b")
        let proxy = try await ProxyFixture()
        let tableA = makeTable(revision: "A", routes: [("t", .prefix("/"), "a")], clusters: ["a": [a.port]])
        let tableB = makeTable(
            revision: "B", routes: [("t", .prefix("/"), "b"), ("t", .exact("/x"), "a")], clusters: ["a": [a.port], "b": [b.port]])
        await proxy.plane.install(tableA)

        let stop = NIOLockedValueBox(false)
        let results = NIOLockedValueBox<(ok: Int, failed: [String])>((0, []))
        let port = proxy.port
        let group = DispatchGroup()
        for worker in 0..<4 {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                // Half the workers keep their connection alive, half open one per request.
                var client = try? RawClient(port: port)
                while !stop.withLockedValue({ $0 }) {
                    do {
                        if worker % 2 == 1 || client == nil { client = try RawClient(port: port) }
                        let r = try client!.get("/", host: "t")
                        if r.status == 200 {
                            results.withLockedValue { $0.ok += 1 }
                        } else {
                            results.withLockedValue { $0.failed.append("status \(r.status): \(r.text)") }
                        }
                    } catch {
                        results.withLockedValue { $0.failed.append("\(error)") }
                        client = nil
                    }
                }
            }
        }
        for i in 0..<200 {
            await proxy.plane.install(i % 2 == 0 ? tableB : tableA)
            // Let requests run on each revision before the next swap (a condition, bounded).
            let target = results.withLockedValue { $0.ok } + 3
            let deadline = Date().addingTimeInterval(5)
            while results.withLockedValue({ $0.ok }) < target && Date() < deadline { try await Task.sleep(nanoseconds: 200_000) }
        }
        stop.withLockedValue { $0 = true }
        await withCheckedContinuation { c in
            DispatchQueue.global().async {
                group.wait(); c.resume()
            }
        }
        let (ok, failed) = results.withLockedValue { $0 }
        #expect(failed.isEmpty, "\(failed.count) failed, first: \(failed.prefix(3))")
        #expect(ok >= 600)
        await proxy.shutdown()
    }
}
