import Foundation
import Manifests
import Planner
import RouteCompiler
import RouteModel
import RouteTesting
import Testing

/// Golden directories, as gitops-engine's `-config`/`-live` pairs: `Golden/<case>/live/*.yaml` and
/// `desired/*.yaml` (either may be absent: nothing) are loaded and compiled; optional `live.json` /
/// `desired.json` (canonical route tables) replace the compiled tables, for routes the compiler cannot
/// produce yet (weighted backends). The plan is compared with `plan.txt`, `plan.md` and `plan.json`,
/// exactly what `gitway plan --format text|markdown|json` prints.
///
/// `RECORD_GOLDEN=1 swift test --filter PlannerTests` rewrites the baselines and still fails.
struct GoldenTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    static var cases: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    @Test(arguments: cases)
    func golden(_ name: String) throws {
        let plan = try Self.plan(name)
        let dir = Self.root.appendingPathComponent(name)
        try Self.compare(PlanRenderer.text(plan), with: dir.appendingPathComponent("plan.txt"))
        try Self.compare(PlanRenderer.markdown(plan), with: dir.appendingPathComponent("plan.md"))
        try Self.compare(PlanRenderer.json(plan), with: dir.appendingPathComponent("plan.json"))
        // The fixtures' Secret values (plain and base64) must appear in no rendering.
        for format in PlanRenderer.Format.allCases {
            let out = PlanRenderer.render(plan, as: format)
            for value in Self.secretValues { #expect(!out.contains(value), "\(format) rendering of \(name) leaks \(value)") }
        }
    }

    static let secretValues = [
        "SECRET-VALUE", "T0xELUNFUlQtU0VDUkVULVZBTFVF", "TkVXLUNFUlQtU0VDUkVULVZBTFVF", "T0xELUtFWS1TRUNSRVQtVkFMVUU=",
    ]

    static func plan(_ name: String) throws -> Plan {
        let dir = root.appendingPathComponent(name)
        let live = try side(dir, "live")
        let desired = try side(dir, "desired")
        let checks = Plan.Checks(
            diagnostics: desired.diagnostics, routeTests: desired.tests.results.count,
            routeTestFailures: desired.tests.diagnostics)
        return Planner.plan(live: live.input, desired: desired.input, checks: checks)
    }

    struct Side {
        var input: PlanInput
        var diagnostics: [Diagnostic]
        var tests: RouteTestReport
    }

    static func side(_ dir: URL, _ name: String) throws -> Side {
        let input = dir.appendingPathComponent(name)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: input.path)) ?? []).filter { $0.hasSuffix(".yaml") }
        let files = try names.sorted().map {
            ManifestFile(path: "\($0)", bytes: Array(try Data(contentsOf: input.appendingPathComponent($0))))
        }
        let (set, loadDiagnostics) = ManifestLoader.load(files)
        let (testFiles, testDiagnostics) = RouteTestLoader.load(files)
        let compiled = RouteCompiler.compile(set, options: CompileOptions(revision: name))
        var table = compiled.table
        if let json = try? Data(contentsOf: dir.appendingPathComponent("\(name).json")) {
            table = try RouteTable.decode(canonicalJSON: json)
        }
        let label =
            name == "live" ? "main@sha1:1111111111111111111111111111111111111111" : "topic@sha1:2222222222222222222222222222222222222222"
        return Side(
            input: PlanInput(revision: label, manifests: set, table: table),
            diagnostics: (loadDiagnostics + testDiagnostics + compiled.diagnostics).sorted(),
            tests: RouteTester.run(testFiles, against: table))
    }

    static func compare(_ actual: String, with file: URL) throws {
        let expected = try? String(contentsOf: file, encoding: .utf8)
        if ProcessInfo.processInfo.environment["RECORD_GOLDEN"] != nil || expected == nil {
            try actual.write(to: file, atomically: true, encoding: .utf8)
            Issue.record("recorded \(file.path); review it and run again without RECORD_GOLDEN")
            return
        }
        #expect(actual == expected, "\(file.lastPathComponent) differs; RECORD_GOLDEN=1 re-records it")
    }
}
