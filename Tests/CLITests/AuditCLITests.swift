import Foundation
import GitSource
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `gitway history` (reads the ledger, no agent needed) and `gitway status` (asks a running `gitway serve`).
@Suite(.serialized) struct AuditCLITests {
    static let applied =
        #"{"branch":"main","durations":{"fetch":1.2,"load":30.5,"total":40},"previous":null,"reasons":[],"result":"applied","revision":"1111111111111111111111111111111111111111","routes":{"added":3,"changed":0,"removed":0},"subject":"first routes","time":"2026-03-01T10:00:00.000Z","trigger":{"kind":"start"}}"#
    static let refused =
        #"{"branch":"main","durations":{"total":12},"failingTests":["routes/t.routetest.yaml:3:5: error: test \"root\": expected backend web, got api"],"previous":"1111111111111111111111111111111111111111","reasons":[],"result":"refused","revision":"2222222222222222222222222222222222222222","subject":"send root to api","time":"2026-03-01T10:05:00.000Z","trigger":{"delivery":"d-1","kind":"webhook","provider":"github"}}"#

    @Test func historyListsTheLedgerNewestFirst() throws {
        let state = try TemporaryDirectory()
        try (Self.applied + "\n" + Self.refused + "\n").write(toFile: state.path + "/ledger.jsonl", atomically: true, encoding: .utf8)
        let run = try CLITests.gitway("history", "--state-dir", state.path)
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines[0].hasPrefix("2026-03-01T10:05:00.000Z  222222222222  refused"), "\(lines[0])")
        #expect(lines[0].contains("1 failing route test"))
        #expect(lines[0].contains("via webhook"))
        #expect(lines[1].contains("111111111111  applied"))
        #expect(lines[1].contains("routes +3 -0 ~0"))
        #expect(lines[1].contains("\"first routes\""))

        let limited = try CLITests.gitway("history", "--state-dir", state.path, "--limit", "1")
        #expect(limited.stdout.split(separator: "\n").count == 1)
        #expect(limited.stdout.contains("refused"))

        let json = try CLITests.gitway("history", "--state-dir", state.path, "--format", "json")
        #expect(json.status == 0)
        let array = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(array.count == 2)
        #expect(array.first?["result"] as? String == "refused")
        #expect((array.first?["failingTests"] as? [String])?.count == 1)
    }

    @Test func historySkipsATornLineWithAWarning() throws {
        let state = try TemporaryDirectory()
        try (Self.applied + "\n" + String(Self.refused.prefix(60))).write(
            toFile: state.path + "/ledger.jsonl", atomically: true, encoding: .utf8)
        let run = try CLITests.gitway("history", "--state-dir", state.path)
        #expect(run.status == 0)
        #expect(run.stdout.split(separator: "\n").count == 1)
        #expect(run.stderr.contains("warning:") && run.stderr.contains("ledger.jsonl:2"), "\(run.stderr)")
    }

    @Test func historyWithoutALedgerExitsTwo() throws {
        let state = try TemporaryDirectory()
        let run = try CLITests.gitway("history", "--state-dir", state.path)
        #expect(run.status == 2)
        #expect(run.stderr.contains("no ledger"))
    }

    @Test func statusOfAnUnreachableAgentExitsTwo() throws {
        let port = try Self.freePort()
        let run = try CLITests.gitway("status", "--admin", "127.0.0.1:\(port)")
        #expect(run.status == 2)
        #expect(run.stderr.contains("unreachable"), "\(run.stderr)")
    }

    @Test func statusAsksARunningAgentAndHistoryReadsWhatItRecorded() throws {
        let repo = try TemporaryDirectory()
        let state = try TemporaryDirectory()
        let repository = try GitRepository.create(at: repo.path)
        let sha = try repository.commit(
            files: [
                "routes/ingress.yaml": Array(PlanAndTestCLITests.ingress.utf8),
                "routes/services.yaml": Array(PlanAndTestCLITests.services.utf8),
            ], message: "first routes\n")
        let (listen, admin) = (try Self.freePort(), try Self.freePort())
        let serve = Process()
        serve.executableURL = CLITests.binary
        serve.arguments = [
            "serve", "--repo", repo.path, "--state-dir", state.path, "--listen", "127.0.0.1:\(listen)",
            "--admin", "127.0.0.1:\(admin)", "--poll", "1h", "--threads", "1", "--access-log", "off",
        ]
        serve.standardOutput = FileHandle.nullDevice
        serve.standardError = FileHandle.nullDevice
        try serve.run()
        defer {
            if serve.isRunning {
                serve.terminate()
                serve.waitUntilExit()
            }
        }
        var status = try CLITests.gitway("status", "--admin", "http://127.0.0.1:\(admin)")
        let deadline = Date().addingTimeInterval(30)
        while !(status.status == 0 && status.stdout.contains("attempted:  \(sha)")) && Date() < deadline {
            usleep(100_000)
            status = try CLITests.gitway("status", "--admin", "http://127.0.0.1:\(admin)")
        }
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("live:       \(sha)"), "\(status.stdout)")
        #expect(status.stdout.contains("attempted:  \(sha)  applied"), "\(status.stdout)")
        #expect(status.stdout.contains("via start"))

        let history = try CLITests.gitway("history", "--state-dir", state.path)
        #expect(history.status == 0, "\(history.stderr)")
        #expect(history.stdout.contains("\(sha.prefix(12))  applied"), "\(history.stdout)")
        #expect(history.stdout.contains("\"first routes\""))

        serve.terminate()
        serve.waitUntilExit()
        let gone = try CLITests.gitway("status", "--admin", "127.0.0.1:\(admin)")
        #expect(gone.status == 2)
    }

    /// A loopback port nothing listens on right now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(fd, pointer, length) == 0 else { return -1 }
                return getsockname(fd, pointer, &length)
            }
        }
        guard bound == 0 else { throw CocoaError(.fileNoSuchFile) }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

extension AuditCLITests {
    @Test(arguments: ["history", "status"])
    func auditCommandsHaveHelpWithExamples(_ command: String) throws {
        let run = try CLITests.gitway(command, "--help")
        #expect(run.status == 0)
        #expect(run.stdout.contains("Examples:"))
    }
}

/// `gitway plan --live`: the head against what a running agent serves.
@Suite(.serialized)
struct PlanLiveCLITests {
    @Test func planAgainstARunningAgent() throws {
        let changed = PlanAndTestCLITests.ingress.replacingOccurrences(of: "name: api, port", with: "name: web, port")
        let fixedTests = PlanAndTestCLITests.tests.replacingOccurrences(of: "backend: shop/api", with: "backend: shop/web")
        let dir = try PlanAndTestCLITests.repository(topic: [
            "routes/ingress.yaml": changed, "routes/shop.routetest.yaml": fixedTests,
        ])
        let (listen, admin) = (try AuditCLITests.freePort(), try AuditCLITests.freePort())
        let serve = Process()
        serve.executableURL = CLITests.binary
        serve.arguments = [
            "serve", "--repo", dir.path, "--listen", "127.0.0.1:\(listen)", "--admin", "127.0.0.1:\(admin)", "--poll", "1h",
            "--threads", "1", "--access-log", "off",
        ]
        serve.standardOutput = FileHandle.nullDevice
        serve.standardError = FileHandle.nullDevice
        try serve.run()
        defer {
            serve.terminate()
            serve.waitUntilExit()
        }
        let url = "http://127.0.0.1:\(admin)"
        var same = try CLITests.gitway("plan", "--repo", dir.path, "--live", url, "--head", "main")
        let deadline = Date().addingTimeInterval(30)
        while same.status == 2 && Date() < deadline {
            usleep(100_000)
            same = try CLITests.gitway("plan", "--repo", dir.path, "--live", url, "--head", "main")
        }
        #expect(same.status == 0, "\(same.stdout)\(same.stderr)")
        #expect(same.stderr.contains("routes only"))
        let topic = try CLITests.gitway("plan", "--repo", dir.path, "--live", url, "--head", "topic")
        #expect(topic.status == 1, "\(topic.stdout)\(topic.stderr)")
        #expect(topic.stdout.contains("~ Prefix /api: shop/api:80 → shop/web:80  [backends]"), "\(topic.stdout)")
        #expect(!topic.stdout.contains("+ create"), "\(topic.stdout)")

        let usage = try CLITests.gitway("plan", "--repo", dir.path, "--live", url, "--base", "main", "--head", "topic")
        #expect(usage.status == 2)
        serve.terminate()
        serve.waitUntilExit()
        let gone = try CLITests.gitway("plan", "--repo", dir.path, "--live", url, "--head", "topic")
        #expect(gone.status == 2)
    }
}
