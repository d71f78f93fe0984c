import Agent
import ArgumentParser
import Foundation

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the agent's sync attempts from the ledger, newest first.",
        discussion: """
            Reads <state-dir>/ledger.jsonl, the append-only record `gitway serve` keeps of every attempt
            (applied, refused, failed, rolled back; unchanged tips are not attempts). No running agent is
            needed. Text output: time, short sha, result, then a summary (route changes, error and
            failing-test counts or the failure, commit subject, trigger). A torn last line left by a crash
            is skipped with a warning on stderr. See docs/audit.md.
            Exits 0, or 2 when there is no ledger in the state directory.
            Examples:
              gitway history --state-dir /var/lib/gitway
              gitway history --state-dir /var/lib/gitway --limit 5
              gitway history --state-dir /var/lib/gitway --format json | jq '.[0].reasons'
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Option(name: .customLong("state-dir"), help: ArgumentHelp("The agent's state directory.", valueName: "dir"))
    var stateDirectory = "."

    @Option(help: ArgumentHelp("Show at most this many attempts.", valueName: "n"))
    var limit: Int?

    @Option(help: "Output format: text or json.")
    var format: Format = .text

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() throws {
        let ledger = Ledger(stateDirectory: stateDirectory)
        guard FileManager.default.fileExists(atPath: ledger.path) else {
            Terminal.error("error: no ledger at \(ledger.path) (is --state-dir the directory `gitway serve` uses?)")
            throw ExitCode(2)
        }
        let records: [AttemptRecord]
        do {
            let read = try ledger.read()
            for warning in read.warnings { Terminal.error("warning: \(warning)") }
            records = Array(read.records.reversed().prefix(limit ?? .max))
        } catch {
            Terminal.error("error: cannot read \(ledger.path): \(error.localizedDescription)")
            throw ExitCode(2)
        }
        switch format {
        case .json:
            Terminal.out(Ledger.json(records))
        case .text:
            if records.isEmpty { Terminal.error("note: the ledger has no attempts yet") }
            var out = ""
            for record in records {
                out +=
                    "\(AttemptRecord.timestamp(record.time))  \(record.shortRevision.padding(toLength: 12, withPad: " ", startingAt: 0))  "
                out += "\(record.result.description.padding(toLength: 11, withPad: " ", startingAt: 0))  \(record.summary)\n"
            }
            Terminal.out(out)
        }
    }
}
