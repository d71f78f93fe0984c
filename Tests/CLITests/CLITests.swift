import Foundation
import GitSource
import Testing

/// Runs the built `gitway` binary the way a user does: arguments in, exit code and output out.
/// (`make unit` builds it before the tests run.)
struct CLITests {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static let binary: URL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        .deletingLastPathComponent().appendingPathComponent("gitway")
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func gitway(_ arguments: String...) throws -> Run {
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            Issue.record("gitway binary not found at \(binary.path); run `swift build` first")
            return Run(status: -1, stdout: "", stderr: "")
        }
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = packageRoot
        let (out, err) = (Pipe(), Pipe())
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read before waiting, so a large output cannot fill the pipe and block the child.
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }

    @Test func exampleRepositoryIsValid() throws {
        let run = try Self.gitway("validate", "--repo", "examples-repo", "--verbose")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("served: Ingress/shop/shop"))
        #expect(run.stdout.contains("ignored: MseIngressConfig/demo-gateway spec.common"))
        #expect(run.stderr.contains("0 errors"))
    }

    @Test func exampleRoutesTableAndJSON() throws {
        let table = try Self.gitway("routes", "--repo", "examples-repo")
        #expect(table.status == 0)
        #expect(table.stdout.contains("shop.example.com"))
        #expect(table.stdout.contains("Exact /healthz"))
        #expect(table.stdout.contains("shop/ingress.yaml:"))
        let json1 = try Self.gitway("routes", "--repo", "examples-repo", "-o", "json")
        let json2 = try Self.gitway("routes", "--repo", "examples-repo", "-o", "json")
        #expect(json1.status == 0)
        #expect(json1.stdout == json2.stdout)
        #expect(json1.stdout.contains("\"virtualHosts\""))
        #expect(!json1.stdout.contains("LS0t"), "secret material must never be printed")
    }

    @Test func brokenManifestIsALocatedErrorAndExitsOne() throws {
        let dir = try TemporaryDirectory()
        try "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: x}\nspec:\n  rules: [\n"
            .write(toFile: dir.path + "/broken.yaml", atomically: true, encoding: .utf8)
        let run = try Self.gitway("validate", "--repo", dir.path)
        #expect(run.status == 1)
        #expect(run.stderr.contains("broken.yaml:"), "\(run.stderr)")
        #expect(run.stderr.range(of: #"broken\.yaml:\d+:\d+: error: "#, options: .regularExpression) != nil, "\(run.stderr)")
    }

    @Test func unknownRevisionExitsTwo() throws {
        let dir = try TemporaryDirectory()
        let repo = try GitRepository.create(at: dir.path)
        _ = try repo.commit(files: ["a.yaml": Array("apiVersion: v1\nkind: Service\nmetadata: {name: a}\n".utf8)], message: "1\n")
        let run = try Self.gitway("validate", "--repo", dir.path, "--rev", "does-not-exist")
        #expect(run.status == 2)
        #expect(run.stderr.contains("does-not-exist"))
    }

    @Test func unreachableRemoteExitsTwoAndNamesTheRemote() throws {
        let state = try TemporaryDirectory()
        let run = try Self.gitway("routes", "--repo", "file:///nonexistent/routing.git", "--state-dir", state.path)
        #expect(run.status == 2)
        #expect(run.stderr.contains("/nonexistent/routing.git"), "\(run.stderr)")
    }

    @Test func usageErrorsExitTwo() throws {
        #expect(try Self.gitway("routes", "-o", "xml").status == 2)
        #expect(try Self.gitway("no-such-command").status == 2)
    }

    @Test(arguments: ["validate", "routes"])
    func everyCommandHasHelpWithExamples(_ command: String) throws {
        let run = try Self.gitway(command, "--help")
        #expect(run.status == 0)
        #expect(run.stdout.contains("Examples:"))
    }
}

final class TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "gitway-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
