import ArgumentParser
import Foundation
import GitSource
import Pipeline

/// Options shared by every command that reads a routing repository.
struct RepositoryArguments: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Repository: a local path or a URL (file://, https://, ssh://).", valueName: "path|url"))
    var repo: String = "."

    @Option(name: .long, help: "Branch to follow.")
    var branch: String = "main"

    @Option(name: .long, help: ArgumentHelp("Revision to read: branch, tag or commit sha (default: the branch tip).", valueName: "rev"))
    var rev: String?

    @Option(name: .long, help: ArgumentHelp("Subdirectory holding the manifests.", valueName: "dir"))
    var path: String = ""

    @Option(name: .long, help: ArgumentHelp("Only files matching this glob (repeatable; default **/*.yaml, **/*.yml).", valueName: "glob"))
    var include: [String] = []

    @Option(name: .long, help: ArgumentHelp("Skip files matching this glob (repeatable).", valueName: "glob"))
    var exclude: [String] = []

    @Option(name: .long, help: ArgumentHelp("Serve only the Ingresses of this MseIngressConfig.", valueName: "name"))
    var gateway: String?

    @Option(name: .customLong("state-dir"), help: ArgumentHelp("Where remote clones are cached.", valueName: "dir"))
    var stateDirectory: String?

    @Option(
        name: .customLong("token-file"),
        help: ArgumentHelp("File holding an HTTPS access token (or set GITWAY_GIT_TOKEN).", valueName: "file"))
    var tokenFile: String?

    @Option(name: .customLong("ssh-key"), help: ArgumentHelp("Private key for ssh:// remotes.", valueName: "file"))
    var sshKey: String?

    @Option(
        name: .customLong("known-hosts"), help: ArgumentHelp("known_hosts file that must list an ssh remote's host key.", valueName: "file")
    )
    var knownHosts: String?

    func options() throws -> RepositoryOptions {
        RepositoryOptions(
            repository: repo, branch: branch, path: path, include: include, exclude: exclude,
            stateDirectory: stateDirectory, credentials: try credentials(), gateway: gateway)
    }

    func credentials() throws -> GitCredentials {
        if let sshKey {
            return .sshKey(
                privateKeyPath: sshKey, publicKeyPath: nil,
                passphrase: ProcessInfo.processInfo.environment["GITWAY_SSH_PASSPHRASE"], knownHostsPath: knownHosts)
        }
        if let tokenFile {
            guard let token = try? String(contentsOfFile: tokenFile, encoding: .utf8) else {
                throw ValidationError("cannot read --token-file \(tokenFile)")
            }
            return .token(token.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        if let token = ProcessInfo.processInfo.environment["GITWAY_GIT_TOKEN"], !token.isEmpty {
            return .token(token)
        }
        return .none
    }

    /// Loads the desired state; environment failures (unknown ref, unreachable remote) exit 2.
    func load() throws -> DesiredState {
        do {
            return try DesiredStateLoader.load(try options(), revision: rev)
        } catch let error as ValidationError {
            throw error
        } catch {
            Terminal.error("error: \(error)")
            throw ExitCode(2)
        }
    }
}
