import ArgumentParser
import Foundation
import Pipeline
import Planner
import RouteModel

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Preview what a revision would change: routes and objects, base against head.",
        discussion: """
            Compiles two revisions of the repository, --base (treated as live) and --head (treated as
            desired), and prints what applying head would change: routes added, removed and changed
            per host (backends, weights, actions), TLS certificates, clusters, and the objects to
            create, update and prune in apply order. No cluster and no running agent are involved, so
            the same two commits always give the same bytes: fit for a pull-request comment
            (`--format markdown`, kept under 60,000 characters) or a tool (`--format json`).
            Secret values never appear in any format.
            The head's diagnostics and failing route tests are part of the output.
            Exits 0 when nothing changes, 1 when something changes, 2 on usage or environment errors
            (unknown ref, unreadable repository) and when the head has errors or failing route tests
            (the plan is still printed, so a PR comment shows why).
            With --live ADMIN_URL instead of --base, the routes are compared with what a running agent
            serves (its GET /routes); objects are not compared then (the admin API serves routes).
            Examples:
              gitway plan --repo . --base origin/main --head HEAD
              gitway plan --repo . --live http://gitway.internal:9180 --head HEAD
              gitway plan --repo . --base main --head topic --format markdown > plan.md
              gitway plan --repo . --base v1.4.0 --head main --path gateways/prod --format json
            """
    )

    @OptionGroup var repository: RepositoryArguments

    @Option(name: .long, help: ArgumentHelp("The revision treated as live: branch, tag or sha.", valueName: "rev"))
    var base: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Compare routes with a running agent's admin API instead of --base.", valueName: "admin-url"))
    var live: String?

    @Option(name: .long, help: ArgumentHelp("The revision treated as desired: branch, tag or sha.", valueName: "rev"))
    var head: String

    @Option(name: .long, help: "Output format: text, markdown or json.")
    var format: PlanRenderer.Format = .text

    func validate() throws {
        if repository.rev != nil { throw ValidationError("plan takes --base and --head, not --rev") }
        guard (base == nil) != (live == nil) else { throw ValidationError("plan takes exactly one of --base and --live") }
        if let live, AdminClient.endpoint(live) == nil {
            throw ValidationError("--live must be http://host:port or host:port, got \(live)")
        }
    }

    func run() throws {
        let options = try repository.options()
        if DesiredStateLoader.plainDirectory(options.repository) != nil {
            Terminal.error("error: \(options.repository) is not a Git repository; plan compares two of its revisions")
            throw ExitCode(2)
        }
        let desired = try load(options, head)
        let checks = Plan.Checks(
            diagnostics: desired.diagnostics, routeTests: desired.routeTests.results.count,
            routeTestFailures: desired.routeTestFailures)
        let liveInput: PlanInput
        if let base {
            let live = try load(options, base)
            liveInput = PlanInput(revision: live.revision, manifests: live.manifests, table: live.table)
        } else {
            // Routes only: the desired objects stand in for the live ones, so none shows as a change.
            let (revision, table) = try liveRoutes()
            liveInput = PlanInput(revision: revision, manifests: desired.manifests, table: table)
            Terminal.error("note: --live compares routes only; objects are not compared")
        }
        var plan = Planner.plan(
            live: liveInput, desired: PlanInput(revision: desired.revision, manifests: desired.manifests, table: desired.table),
            checks: checks)
        if live != nil { plan.unchangedObjects = 0 }
        Terminal.out(PlanRenderer.render(plan, as: format))
        for diagnostic in desired.diagnostics where diagnostic.severity == .error { Terminal.error(diagnostic.description) }
        for failure in desired.routeTestFailures { Terminal.error(failure.description) }
        if !desired.isAcceptable { throw ExitCode(2) }
        if plan.hasChanges { throw ExitCode(1) }
    }

    /// The table a running agent serves, and its revision; an unreachable agent exits 2.
    private func liveRoutes() throws -> (String, RouteTable) {
        let (host, port) = AdminClient.endpoint(live!)!
        do {
            let routes = try AdminClient.get(host: host, port: port, path: "/routes")
            guard routes.status == 200 else {
                throw AdminClient.Failure(
                    description: "GET /routes answered \(routes.status): \(String(decoding: routes.body, as: UTF8.self))")
            }
            let table = try JSONDecoder().decode(RouteTable.self, from: routes.body)
            return ("live:" + (table.revision ?? "\(host):\(port)"), table)
        } catch {
            Terminal.error("error: agent at \(live!) unreachable or unusable: \(error)")
            throw ExitCode(2)
        }
    }

    /// Environment failures (unknown ref, unreachable remote) exit 2, naming the revision.
    private func load(_ options: RepositoryOptions, _ rev: String) throws -> DesiredState {
        do {
            return try DesiredStateLoader.load(options, revision: rev)
        } catch {
            Terminal.error("error: \(rev): \(error)")
            throw ExitCode(2)
        }
    }
}

extension PlanRenderer.Format: ExpressibleByArgument {}
