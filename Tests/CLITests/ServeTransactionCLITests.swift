import Foundation
import GitSource
import Testing

/// `gitway serve` end to end over a real repository and `--state-dir`: a commit that fails
/// verification is rolled back and marked bad, a restart remembers it and keeps serving the last
/// good revision, a newer commit applies, and emptying the repository is refused without `--allow-empty`.
struct ServeTransactionCLITests {
    static let good = [
        "shop/services.yaml": PlanAndTestCLITests.services, "shop/ingress.yaml": PlanAndTestCLITests.ingress,
    ]
    /// Adds a route to a Service that has no endpoints: valid, but verification fails.
    static let ghost = """
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: ghost, namespace: shop}
        spec:
          rules:
          - host: ghost.example.com
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: ghost, port: {number: 80}}}}]}

        """

    final class Server {
        let process = Process()
        let log: String

        init(repo: String, state: String, log: String) throws {
            self.log = log
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            process.executableURL = CLITests.binary
            process.arguments = [
                "serve", "--repo", repo, "--state-dir", state, "--verify-endpoints", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
                "--poll", "50ms", "--access-log", "off", "--threads", "1",
            ]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            try process.run()
        }

        var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

        func stop() {
            process.terminate()
            process.waitUntilExit()
        }
    }

    /// Waits until `condition` holds (polling; the agent polls the branch every 50 ms), at most 30 s.
    static func waitFor(_ what: String, _ server: Server, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(30)
        while try !condition() {
            guard Date() < deadline, server.process.isRunning else {
                Issue.record("timed out waiting for \(what); log:\n\(server.output)")
                throw CancellationError()
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    static func metadata(_ state: String) throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: state + "/cluster/metadata.json") else { return [:] }
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }

    static func badRevisions(_ state: String) throws -> [String] {
        (try metadata(state)["badRevisions"] as? [[String: Any]] ?? []).compactMap { $0["revision"] as? String }
    }

    static func inventory(_ state: String) -> Data? { FileManager.default.contents(atPath: state + "/cluster/inventory.json") }

    @Test func badCommitRollsBackAndStaysBadAcrossARestart() throws {
        guard FileManager.default.isExecutableFile(atPath: CLITests.binary.path) else {
            Issue.record("gitway binary not found at \(CLITests.binary.path); run `swift build` first")
            return
        }
        let dir = try TemporaryDirectory()
        let (repoPath, state) = (dir.path + "/repo", dir.path + "/state")
        let repo = try GitRepository.create(at: repoPath)
        let files = Self.good.mapValues { Array($0.utf8) }
        let first = try repo.commit(files: files, message: "good\n")

        var server = try Server(repo: repoPath, state: state, log: dir.path + "/serve-1.log")
        defer { server.stop() }
        try Self.waitFor("the first commit", server) { try Self.metadata(state)["appliedRevision"] as? String == first }
        let good = try #require(Self.inventory(state))

        let bad = try repo.commit(files: files.merging(["shop/ghost.yaml": Array(Self.ghost.utf8)]) { $1 }, message: "ghost\n")
        // The outcome is logged once the transaction has finished (rolled back, journal closed).
        try Self.waitFor("the rollback", server) { server.output.contains("result=rolledBack") }
        #expect(try Self.badRevisions(state) == [bad])
        #expect(try Self.metadata(state)["appliedRevision"] as? String == first)
        #expect(Self.inventory(state) == good, "a rolled-back commit must leave the store byte for byte as it was")
        #expect(server.output.contains("stage=verification"))
        #expect(!FileManager.default.fileExists(atPath: state + "/journal/transaction.jsonl"))

        // A restart: the bad tip is not retried, and the last good revision serves again.
        server.stop()
        server = try Server(repo: repoPath, state: state, log: dir.path + "/serve-2.log")
        try Self.waitFor("the last good revision", server) {
            server.output.contains("serving the last applied revision") && server.output.contains("is marked bad")
        }
        #expect(Self.inventory(state) == good)

        // A newer commit applies without any operator action.
        let fixed = try repo.commit(files: files.merging(["shop/extra.yaml": Array("---\n".utf8)]) { $1 }, message: "fix\n")
        try Self.waitFor("the fix", server) { try Self.metadata(state)["appliedRevision"] as? String == fixed }
        #expect(try Self.badRevisions(state) == [bad])

        // Emptying the repository is refused without --allow-empty.
        let empty = try repo.commit(files: ["README.md": Array("nothing here\n".utf8)], message: "empty\n")
        try Self.waitFor("the refusal", server) { server.output.contains("refusing without --allow-empty") }
        #expect(try Self.metadata(state)["appliedRevision"] as? String == fixed)
        #expect(!server.output.contains("revision=\(empty) [Agent] revision live"))
        #expect(Self.inventory(state) == good)
    }
}
