import Foundation
import Manifests
import Planner
import RouteModel
import Testing

/// Behaviour of the planner and renderers that goldens alone would not pin down.
struct PlannerTests {
    static func manifests(_ yaml: String, file: String = "m.yaml") -> ManifestSet {
        let (set, diagnostics) = ManifestLoader.load([ManifestFile(path: file, bytes: Array(yaml.utf8))])
        #expect(!diagnostics.hasErrors, "\(diagnostics)")
        return set
    }

    static func input(_ yaml: String, table: RouteTable = RouteTable(), revision: String = "r") -> PlanInput {
        PlanInput(revision: revision, manifests: manifests(yaml), table: table)
    }

    static let secretV1 = """
        apiVersion: v1
        kind: Secret
        metadata: {name: tls, namespace: shop, annotations: {note: kept}}
        type: Opaque
        data: {tls.key: U1VQRVJTRUNSRVQtT05F}
        stringData: {password: hunter2-first}
        """
    static let secretV2 = """
        apiVersion: v1
        kind: Secret
        metadata: {name: tls, namespace: shop, annotations: {note: kept}}
        type: Opaque
        data: {tls.key: U1VQRVJTRUNSRVQtVFdP}
        stringData: {password: hunter2-second}
        """

    @Test func secretDataChangeIsReportedWithoutValuesInEveryFormat() throws {
        let plan = Planner.plan(live: Self.input(Self.secretV1), desired: Self.input(Self.secretV2))
        #expect(plan.objects.count == 1)
        let change = try #require(plan.objects.first)
        #expect(change.action == .update)
        #expect(change.fields == [FieldChange(path: "data", change: .changed, valuesHidden: true)])
        #expect(change.summary == "data changed (values hidden)")
        for format in PlanRenderer.Format.allCases {
            let out = PlanRenderer.render(plan, as: format)
            #expect(out.contains(format == .json ? "\"Secret\"" : "Secret/shop/tls"))
            for secret in ["U1VQRVJTRUNSRVQt", "SUPERSECRET", "hunter2", "VFdP", "T05F"] {
                #expect(!out.contains(secret), "\(format) output leaks \(secret)")
            }
        }
    }

    @Test func createdAndPrunedSecretsShowNoValues() {
        let created = Planner.plan(live: Self.input(""), desired: Self.input(Self.secretV2))
        let pruned = Planner.plan(live: Self.input(Self.secretV1), desired: Self.input(""))
        for plan in [created, pruned] {
            for format in PlanRenderer.Format.allCases {
                let out = PlanRenderer.render(plan, as: format)
                #expect(!out.contains("hunter2") && !out.contains("U1VQRVJTRUNSRVQt"))
            }
        }
        #expect(created.objects.map(\.action) == [.create])
        #expect(pruned.objects.map(\.action) == [.prune])
    }

    @Test func movingAnObjectToAnotherFileIsNoChange() {
        let yaml = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: {ports: [{port: 80}]}\n"
        let live = PlanInput(revision: "a", manifests: Self.manifests(yaml, file: "a.yaml"), table: RouteTable())
        let desired = PlanInput(
            revision: "b", manifests: Self.manifests("# moved\n\n" + yaml, file: "b/c.yaml"), table: RouteTable())
        let plan = Planner.plan(live: live, desired: desired)
        #expect(!plan.hasChanges)
        #expect(plan.unchangedObjects == 1)
    }

    @Test func updatesListTopLevelPathsLabelsAndAnnotations() {
        let a = """
            apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: shop, labels: {app: web, old: x}, annotations: {a: "1"}}
            spec: {ports: [{port: 80}], selector: {app: web}}
            """
        let b = """
            apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: shop, labels: {app: web2}, annotations: {a: "1", b: "2"}}
            spec: {ports: [{port: 81}], selector: {app: web}, type: NodePort}
            """
        let plan = Planner.plan(live: Self.input(a), desired: Self.input(b))
        #expect(
            plan.objects.first?.fields.map(\.summary) == [
                "metadata.labels[\"app\"] changed", "metadata.labels[\"old\"] removed",
                "metadata.annotations[\"b\"] added", "spec.ports changed", "spec.type changed",
            ])
    }

    @Test func objectsAreOrderedInWavesAndPrunedInReverse() {
        let live = """
            apiVersion: v1
            kind: Namespace
            metadata: {name: old}
            ---
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata: {name: old, namespace: old}
            spec: {defaultBackend: {service: {name: x, port: {number: 80}}}}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: old, namespace: old}
            """
        let desired = """
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata: {name: new, namespace: new}
            spec: {defaultBackend: {service: {name: x, port: {number: 80}}}}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: new, namespace: new}
            ---
            apiVersion: networking.k8s.io/v1
            kind: IngressClass
            metadata: {name: mse}
            spec: {controller: mse.alibabacloud.com/ingress}
            ---
            apiVersion: v1
            kind: Namespace
            metadata: {name: new}
            """
        let plan = Planner.plan(live: Self.input(live), desired: Self.input(desired))
        #expect(
            plan.objects.map { "\($0.action.rawValue) \($0.object)" } == [
                "create Namespace/new", "create IngressClass/mse", "create Service/new/new", "create Ingress/new/new",
                "prune Ingress/old/old", "prune Service/old/old", "prune Namespace/old",
            ])
        #expect(plan.prunesEverything)
        // The plan holds identities; the bodies to apply come from the desired side.
        let desiredInput = Self.input(desired)
        #expect(desiredInput.object(plan.objects[1].object)?.kind == "IngressClass")
        #expect(desiredInput.object(plan.objects[4].object) == nil)
    }

    @Test func prunesEverythingOnlyWhenNoLiveObjectSurvives() {
        let one = "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: x}\n"
        let two = one + "---\napiVersion: v1\nkind: Service\nmetadata: {name: b, namespace: x}\n"
        #expect(Planner.plan(live: Self.input(two), desired: Self.input("")).prunesEverything)
        #expect(!Planner.plan(live: Self.input(two), desired: Self.input(one)).prunesEverything)
        #expect(!Planner.plan(live: Self.input(""), desired: Self.input("")).prunesEverything)
        #expect(!Planner.plan(live: Self.input(""), desired: Self.input(two)).prunesEverything)
        let out = PlanRenderer.markdown(Planner.plan(live: Self.input(two), desired: Self.input("")))
        #expect(out.contains("Every live object would be pruned"))
    }

    @Test func sameKindInAnotherGroupIsAnotherObject() {
        let core = "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: x}\n"
        let knative = "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: a, namespace: x}\n"
        let plan = Planner.plan(live: Self.input(core), desired: Self.input(knative))
        #expect(
            plan.objects.map { "\($0.action.rawValue) \($0.object)" } == ["create Service.serving.knative.dev/x/a", "prune Service/x/a"])
    }

    // MARK: Routes

    static func table(_ routes: [(String, String, RouteAction)]) -> RouteTable {
        var hosts: [String: [Route]] = [:]
        for (host, path, action) in routes {
            hosts[host, default: []].append(
                Route(
                    name: "\(host)\(path)", match: RouteMatch(path: .prefix(path)), action: action,
                    source: RouteSource(object: "Ingress/a/b", location: SourceLocation(file: "f.yaml", line: 1, column: 1))))
        }
        return RouteTable(virtualHosts: hosts.keys.sorted().map { VirtualHost(host: $0, routes: hosts[$0]!) })
    }

    @Test func routesArePairedByHostAndMatchNotByName() {
        let live = Self.table([("a.example.com", "/x", .forward(to: "ns/web:80"))])
        var desired = live
        desired.virtualHosts[0].routes[0].name = "renamed#3.1"
        desired.virtualHosts[0].routes[0].source.location.line = 40
        let plan = Planner.plan(
            live: PlanInput(revision: "a", manifests: ManifestSet(), table: live),
            desired: PlanInput(revision: "b", manifests: ManifestSet(), table: desired))
        #expect(!plan.routes.hasChanges)
        #expect(plan.routes.unchangedRoutes == 1)
    }

    @Test func reorderingRoutesOfAHostIsAChange() {
        let live = Self.table([("h", "/a", .forward(to: "ns/a:80")), ("h", "/b", .forward(to: "ns/b:80"))])
        var desired = live
        desired.virtualHosts[0].routes.reverse()
        let plan = Planner.plan(
            live: PlanInput(revision: "a", manifests: ManifestSet(), table: live),
            desired: PlanInput(revision: "b", manifests: ManifestSet(), table: desired))
        #expect(plan.hasChanges)
        #expect(plan.routes.hosts.map(\.orderChanged) == [true])
        #expect(plan.routes.hosts.first?.routes.isEmpty == true)
        #expect(PlanRenderer.text(plan).contains("  h (route order changed: the first match wins)\n"))
        #expect(PlanRenderer.markdown(plan).contains("Same routes, tried in another order."))
    }

    @Test func weightChangesAreToldApartFromBackendChanges() {
        func split(_ a: Int, _ b: Int, second: String = "ns/canary:80") -> RouteAction {
            RouteAction(
                forward: Forward(backends: [WeightedBackend(cluster: "ns/web:80", weight: a), WeightedBackend(cluster: second, weight: b)]))
        }
        func diff(_ x: RouteAction, _ y: RouteAction) -> [RouteChange.Aspect] {
            let plan = Planner.plan(
                live: PlanInput(revision: "a", manifests: ManifestSet(), table: Self.table([("h", "/", x)])),
                desired: PlanInput(revision: "b", manifests: ManifestSet(), table: Self.table([("h", "/", y)])))
            return plan.routes.hosts.first?.routes.first?.aspects ?? []
        }
        #expect(diff(split(90, 10), split(50, 50)) == [.weights])
        #expect(diff(split(90, 10), split(90, 10, second: "ns/other:80")) == [.backends])
        #expect(diff(split(90, 10), RouteAction(redirect: Redirect(location: "/", status: 301))) == [.action])
        #expect(diff(split(90, 10), split(90, 10)) == [])
    }

    // MARK: Rendering

    @Test func renderingIsDeterministicWhateverTheInputOrder() {
        var objects = Self.manifests(
            (0..<30).map { "apiVersion: v1\nkind: Service\nmetadata: {name: s\($0), namespace: n\($0 % 3)}\n" }
                .joined(separator: "---\n")
        ).objects
        let a = PlanInput(revision: "a", manifests: ManifestSet(), table: RouteTable())
        let plan1 = Planner.plan(live: a, desired: PlanInput(revision: "b", manifests: ManifestSet(objects: objects), table: RouteTable()))
        objects.reverse()
        let plan2 = Planner.plan(live: a, desired: PlanInput(revision: "b", manifests: ManifestSet(objects: objects), table: RouteTable()))
        for format in PlanRenderer.Format.allCases {
            #expect(PlanRenderer.render(plan1, as: format) == PlanRenderer.render(plan2, as: format))
        }
    }

    @Test func hostileStringsCannotBreakTheMarkdown() throws {
        let evil = "/a|b`c``d <img src=x> @admin\nnext"
        let plan = Planner.plan(
            live: PlanInput(revision: "a", manifests: ManifestSet(), table: RouteTable()),
            desired: PlanInput(revision: "b", manifests: ManifestSet(), table: Self.table([("h|x", evil, .forward(to: "ns/w`eb:80"))])))
        let md = PlanRenderer.markdown(plan)
        try MarkdownChecks.assertWellFormed(md)
        #expect(!md.contains("\nnext"))
        #expect(md.contains("```Prefix /a\\|b`c``d <img src=x> @admin next```"))
    }

    @Test func hugePlanIsTruncatedBelowTheLimitAtARowBoundaryWithANote() throws {
        var hosts: [(String, String, RouteAction)] = []
        for h in 0..<120 {
            for p in 0..<40 { hosts.append(("host-\(h).example.com", "/path/number/\(p)", .forward(to: "ns/svc-\(p):80"))) }
        }
        let objects = (0..<2_000).map {
            "apiVersion: v1\nkind: Service\nmetadata: {name: s\($0), namespace: n}\n"
        }
        let plan = Planner.plan(
            live: PlanInput(revision: "a", manifests: ManifestSet(), table: RouteTable()),
            desired: PlanInput(
                revision: "b", manifests: Self.manifests(objects.joined(separator: "---\n")), table: Self.table(hosts)),
            checks: Plan.Checks(
                diagnostics: (0..<50).map { .warning("w\($0)", at: SourceLocation(file: "f.yaml", line: $0 + 1, column: 1)) }))
        let full = PlanRenderer.text(plan)
        #expect(full.utf8.count > 200_000)
        let md = PlanRenderer.markdown(plan)
        #expect(md.utf8.count < 60_000)
        #expect(md.count < 60_000)
        #expect(md.utf8.count > 55_000, "truncation should use the space it has")
        #expect(md.contains("**Truncated**"))
        #expect(md.contains("object changes"))
        #expect(md.contains("route changes"))
        // The diagnostics come first and survive.
        #expect(md.contains("`f.yaml:50:1: warning: w49`"))
        try MarkdownChecks.assertWellFormed(md)
        // Smaller limits cut elsewhere and stay well-formed.
        for limit in [2_000, 3_333, 10_007] {
            let small = PlanRenderer.markdown(plan, limit: limit)
            #expect(small.utf8.count < limit)
            try MarkdownChecks.assertWellFormed(small)
        }
    }
}

/// Structural checks of rendered Markdown: balanced code spans on every line, tables with a header
/// and separator, rows with the header's cell count, and a blank line (or the end) after each table.
enum MarkdownChecks {
    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    static func assertWellFormed(_ md: String) throws {
        let lines = md.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var columns: Int?
        for (i, line) in lines.enumerated() {
            try checkCodeSpans(line, number: i + 1)
            if line.hasPrefix("|") {
                let cells = cellCount(line)
                if let columns {
                    guard cells == columns else { throw Malformed(description: "line \(i + 1): \(cells) cells, table has \(columns)") }
                } else {
                    guard i + 1 < lines.count, lines[i + 1].hasPrefix("|---") else {
                        throw Malformed(description: "line \(i + 1): table row without a header")
                    }
                    columns = cells
                }
            } else {
                if columns != nil, !line.isEmpty { throw Malformed(description: "line \(i + 1): table not ended by a blank line") }
                columns = nil
            }
        }
        #expect(md.hasSuffix("\n"))
    }

    /// Cells separated by unescaped pipes outside the leading and trailing one.
    static func cellCount(_ line: String) -> Int {
        var count = 0
        var escaped = false
        for c in line {
            if escaped {
                escaped = false
                continue
            }
            if c == "\\" { escaped = true } else if c == "|" { count += 1 }
        }
        return count - 1
    }

    /// Every opening backtick run is closed by a run of the same length on the same line.
    static func checkCodeSpans(_ line: String, number: Int) throws {
        let chars = Array(line)
        var i = 0
        while i < chars.count {
            guard chars[i] == "`" else {
                i += 1
                continue
            }
            var n = 0
            while i < chars.count, chars[i] == "`" {
                n += 1
                i += 1
            }
            // Find the closing run of exactly n backticks.
            var closed = false
            while i < chars.count {
                if chars[i] == "`" {
                    var m = 0
                    while i < chars.count, chars[i] == "`" {
                        m += 1
                        i += 1
                    }
                    if m == n {
                        closed = true
                        break
                    }
                } else {
                    i += 1
                }
            }
            if !closed { throw Malformed(description: "line \(number): unterminated code span") }
        }
    }
}
