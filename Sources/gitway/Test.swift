import ArgumentParser
import Foundation
import Pipeline
import RouteModel
import RouteTesting

struct Test: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a revision's route tests (*.routetest.yaml) against its compiled routes.",
        discussion: """
            Route tests are requests and their expected outcome (backend, status, upstream path, response
            headers), kept next to the manifests in files named *.routetest.yaml; see docs/route-tests.md.
            They run against the revision's route table with the same matcher as the gateway, without
            any network. Each failing test is printed as `file:line:column: error: test "name": expected
            …, got …`, then a summary `N tests, M failed`. Diagnostics of the manifests and test files go
            to stderr.
            Exits 0 when every test passes, 1 when a test fails or a manifest or test file has errors,
            2 when the repository cannot be read. A revision without route tests exits 0 with a note.
            Examples:
              gitway test --repo .
              gitway test --repo . --rev HEAD~1
              gitway test --repo ./routing-dir --format json
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @OptionGroup var repository: RepositoryArguments

    @Option(name: .long, help: "Output format: text or json.")
    var format: Format = .text

    func run() throws {
        let state = try repository.load()
        for diagnostic in state.diagnostics where diagnostic.severity != .note { Terminal.error(diagnostic.description) }
        let report = state.routeTests
        if report.results.isEmpty, !state.diagnostics.hasErrors {
            Terminal.error("note: \(state.revision): no route tests (*.routetest.yaml, *.routetest.yml) found")
        }
        switch format {
        case .text:
            var out = ""
            for failure in report.diagnostics { out += failure.description + "\n" }
            out += report.summary + "\n"
            Terminal.out(out)
        case .json:
            Terminal.out(TestOutput(state: state).json())
        }
        if !report.passed || state.diagnostics.hasErrors { throw ExitCode(1) }
    }
}

/// `gitway test --format json`: stable for tools (sorted keys, test order as in the files).
struct TestOutput: Encodable {
    struct Test: Encodable {
        var name: String
        var location: String
        var passed: Bool
        var mismatches: [String]
        var outcome: RouteOutcome
    }

    var revision: String
    var tests: [Test]
    var total: Int
    var failed: Int
    var diagnostics: [Diagnostic]

    init(state: DesiredState) {
        revision = state.revision
        tests = state.routeTests.results.map {
            Test(name: $0.name, location: $0.location.description, passed: $0.passed, mismatches: $0.mismatches, outcome: $0.outcome)
        }
        total = tests.count
        failed = state.routeTests.failures.count
        diagnostics = state.diagnostics
    }

    func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: try! encoder.encode(self), as: UTF8.self) + "\n"
    }
}
