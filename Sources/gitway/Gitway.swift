import ArgumentParser
import Foundation

@main
struct Gitway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gitway",
        abstract: "GitOps for MSE cloud-native gateways: Ingress manifests in Git, compiled into routes.",
        discussion: """
            Gitway follows a branch of a Git repository of Kubernetes Ingress and MseIngressConfig
            manifests, compiles them into a route table and serves it. These commands inspect any
            revision of such a repository without a cluster.

            Exit codes: 0 success (plan: no change), 1 validation errors, failing route tests or (plan) changes,
            2 usage or environment errors.
            """,
        version: GitwayVersion.current,
        subcommands: [Serve.self, Validate.self, Routes.self, Test.self, PlanCommand.self, History.self, Status.self]
    )

    /// ArgumentParser exits 64 on usage errors; Gitway's contract is 2 (DESIGN.md, "Exit codes").
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                Terminal.error(fullMessage(for: error))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}

enum GitwayVersion {
    static let current = "0.1.0-dev"
}

/// Diagnostics and errors go to stderr; results to stdout.
enum Terminal {
    static func error(_ message: String) {
        FileHandle.standardError.write(Data((message.hasSuffix("\n") ? message : message + "\n").utf8))
    }

    static func out(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
