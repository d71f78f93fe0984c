import ArgumentParser
import Pipeline
import RouteModel

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every manifest of a revision and report located diagnostics.",
        discussion: """
            Prints each problem as `file:line:column: error|warning: message` on stderr and a summary.
            Exits 0 when there is no error, 1 when there are errors, 2 when the repository cannot be read.

            Examples:
              gitway validate --repo .                       # the branch tip of the repository here
              gitway validate --repo ./routing-dir           # a plain directory, as it is on disk
              gitway validate --repo https://git.example.com/ops/routing.git --rev v1.4.0
              gitway validate --repo . --path gateways/prod --verbose
            """
    )

    @OptionGroup var repository: RepositoryArguments

    @Flag(name: .shortAndLong, help: "Also list served and excluded Ingresses and ignored MseIngressConfig fields.")
    var verbose = false

    @Flag(name: .long, help: "Treat warnings as errors.")
    var strict = false

    func run() throws {
        let state = try repository.load()
        for diagnostic in state.diagnostics { Terminal.error(diagnostic.description) }
        if verbose {
            var text = ""
            for key in state.compiled.served { text += "served: \(key)\n" }
            for exclusion in state.compiled.excluded { text += "excluded: \(exclusion.ingress): \(exclusion.reason)\n" }
            for config in state.manifests.mseIngressConfigs {
                for field in config.spec.ignoredFields {
                    text += "ignored: MseIngressConfig/\(config.metadata.name) spec.\(field) (no meaning for an embedded gateway)\n"
                }
            }
            Terminal.out(text)
        }
        let errors = state.diagnostics.filter { $0.severity == .error }.count
        let warnings = state.diagnostics.filter { $0.severity == .warning }.count
        Terminal.error(
            "\(state.revision): \(state.fileCount) files, \(state.manifests.objects.count) objects, "
                + "\(state.table.routeCount) routes; \(errors) error\(errors == 1 ? "" : "s"), "
                + "\(warnings) warning\(warnings == 1 ? "" : "s")")
        if errors > 0 || (strict && warnings > 0) { throw ExitCode(1) }
    }
}
