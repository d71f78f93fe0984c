import Agent
import ArgumentParser
import Foundation

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask a running agent what it serves and how its last attempt went.",
        discussion: """
            Reads GET /revision from the agent's admin API and prints the live revision, the last attempted
            revision with its result (applied, refused, failed, rolled back), why, and what triggered it.
            Exits 0 when the agent answered, 2 when it cannot be reached.
            Examples:
              gitway status
              gitway status --admin 127.0.0.1:9180
              gitway status --admin http://10.0.0.5:9180 --format json
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Option(help: ArgumentHelp("The agent's admin address.", valueName: "url|host:port"))
    var admin = "127.0.0.1:9180"

    @Option(help: "Output format: text or json (the agent's answer as is).")
    var format: Format = .text

    func validate() throws {
        guard AdminClient.endpoint(admin) != nil else {
            throw ValidationError("--admin must be host:port or http://host:port, got \(admin)")
        }
    }

    func run() throws {
        let (host, port) = AdminClient.endpoint(admin)!
        let answer: (status: Int, body: Data)
        do {
            answer = try AdminClient.get(host: host, port: port, path: "/revision")
        } catch {
            Terminal.error("error: the agent at \(host):\(port) is unreachable: \(error)")
            throw ExitCode(2)
        }
        guard answer.status == 200, let status = try? AgentStatus.decode(json: answer.body) else {
            Terminal.error("error: \(host):\(port) answered \(answer.status) to GET /revision, not an agent status")
            throw ExitCode(2)
        }
        if format == .json {
            Terminal.out(String(decoding: answer.body, as: UTF8.self))
            return
        }
        Terminal.out(Self.render(status))
    }

    static func render(_ status: AgentStatus) -> String {
        func time(_ date: Date?) -> String { date.map(AttemptRecord.timestamp) ?? "-" }
        var out = ""
        if let revision = status.revision {
            out += "live:       \(revision)  since \(time(status.appliedAt))"
            if let routes = status.routes { out += "  (\(routes) route\(routes == 1 ? "" : "s"))" }
            out += "\n"
        } else {
            out += "live:       none (no revision applied yet)\n"
        }
        if let attempt = status.lastAttempt {
            out +=
                "attempted:  \(attempt.revision ?? "-")  \(attempt.result)  at \(time(attempt.time))  via \(attempt.trigger.description)\n"
            // A refusal's message is its summary ("1 error, 2 failing route tests"); a failure's is its one reason.
            if attempt.result == .refused, let message = status.message { out += "            \(message)\n" }
            for reason in (attempt.reasons + (attempt.failingTests ?? [])).prefix(20) { out += "  \(reason)\n" }
        } else if let attempted = status.attempted {
            out += "attempted:  \(attempted)  \(status.attemptedResult?.rawValue ?? "-")  at \(time(status.attemptedAt))\n"
            if let message = status.message { out += "            \(message)\n" }
            for diagnostic in status.diagnostics ?? [] { out += "  \(diagnostic)\n" }
        } else {
            out += "attempted:  none yet\n"
        }
        return out
    }
}
