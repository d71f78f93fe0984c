import ArgumentParser
import Pipeline
import RouteModel

struct Routes: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the route table a revision compiles to.",
        discussion: """
            The table lists host, match, backend(s) and the file:line each route comes from, in the order
            requests are matched. `-o json` prints the canonical JSON: byte-identical for the same commit
            on every machine. Diagnostics go to stderr; invalid objects are left out of the table.

            Examples:
              gitway routes --repo .
              gitway routes --repo . --rev HEAD~1 -o json > routes.json
              gitway routes --repo https://git.example.com/ops/routing.git --branch prod
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, json
    }

    @OptionGroup var repository: RepositoryArguments

    @Option(name: .shortAndLong, help: "Output format: table or json.")
    var output: Format = .table

    func run() throws {
        let state = try repository.load()
        for diagnostic in state.diagnostics where diagnostic.severity == .error { Terminal.error(diagnostic.description) }
        switch output {
        case .table: Terminal.out(state.table.renderText())
        case .json: Terminal.out(state.table.canonicalJSON())
        }
        if state.diagnostics.hasErrors { throw ExitCode(1) }
    }
}
