import Dispatch
import Foundation
import NIOConcurrencyHelpers
import Testing

/// `gitway serve` as a process: SIGTERM stops accepting, lets in-flight requests finish, then exits 0.
@Suite(.serialized)
struct ServeProcessTests {
    static let gitway = BackendProcess.binary.deletingLastPathComponent().appendingPathComponent("gitway")

    @Test(arguments: [SIGTERM, SIGINT])
    func signalDrainsInFlightRequestsThenExits(_ signal: Int32) async throws {
        let backend = try BackendProcess(name: "a")
        let repo = NSTemporaryDirectory() + "gitway-serve-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: repo) }
        try Self.manifests(backendPort: backend.port).write(toFile: repo + "/app.yaml", atomically: true, encoding: .utf8)
        let (port, admin) = (try deadPort(), try deadPort())
        let process = Process()
        process.executableURL = Self.gitway
        process.arguments = [
            "serve", "--repo", repo, "--listen", "127.0.0.1:\(port)", "--admin", "127.0.0.1:\(admin)", "--grace", "10s",
            "--access-log", "off",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        try await waitUntil { (try? RawClient(port: admin).get("/readyz", host: "admin").status) == 200 }

        // A slow request is inside the proxy when the signal arrives.
        let slow = NIOLockedValueBox<RawClient.Response?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            slow.withLockedValue { $0 = try? RawClient(port: port).get("/delay/1500", host: "app.test") }
            done.signal()
        }
        try await waitUntil {
            let metrics = (try? RawClient(port: admin).get("/metrics", host: "admin").text) ?? ""
            return metrics.contains("gitway_requests_in_flight 1")
        }
        kill(process.processIdentifier, signal)

        // New connections are refused once the listener is closed …
        try await waitUntil { (try? RawClient(port: port)) == nil }
        // … the request in flight still completes on its backend …
        await withCheckedContinuation { c in
            DispatchQueue.global().async {
                done.wait(); c.resume()
            }
        }
        let finished = slow.withLockedValue { $0 }
        #expect(finished?.status == 200)
        #expect(finished?.header("x-backend-name") == "a")
        // … and the process exits cleanly.
        try await waitUntil { !process.isRunning }
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
    }

    static func manifests(backendPort: Int) -> String {
        """
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: app, namespace: default}
        spec:
          rules:
            - host: app.test
              http:
                paths:
                  - path: /
                    pathType: Prefix
                    backend: {service: {name: app, port: {number: 80}}}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: app, namespace: default}
        spec:
          ports: [{name: http, port: 80}]
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: app-1
          namespace: default
          labels: {kubernetes.io/service-name: app}
        addressType: IPv4
        ports: [{name: http, port: \(backendPort)}]
        endpoints:
          - addresses: ["127.0.0.1"]
            conditions: {ready: true}

        """
    }
}
