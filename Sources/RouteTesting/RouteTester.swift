import RouteModel

/// Runs route tests against a compiled table, with no network: the reference matcher
/// (`RouteTable.match`) decides the route, and the outcome is what the data plane would do with it.
///
/// Outcomes:
/// - no route: `404` (a `defaultBackend` is compiled into a catch-all route, so it is matched like any other);
/// - redirect: its status and a `location` response header;
/// - direct response: its status;
/// - forward: `200` when the backend's cluster has endpoints, `503` when it has none (ready or not: the
///   data plane tries not-ready endpoints rather than answer a certain 503).
///
/// With several weighted backends a request may reach any of them, so `expect.backend` passes when it
/// names one whose weight is above 0; the status is then that backend's.
public enum RouteTester {
    public static func run(_ files: [RouteTestFile], against table: RouteTable) -> RouteTestReport {
        var results: [RouteTestResult] = []
        for file in files {
            for test in file.tests {
                results.append(run(test, file: file.path, against: table))
            }
        }
        return RouteTestReport(results: results)
    }

    public static func run(_ test: RouteTestCase, file: String, against table: RouteTable) -> RouteTestResult {
        let outcome = RouteOutcome.evaluate(test.request, in: table, preferring: test.expect.backend)
        var mismatches: [String] = []
        let expect = test.expect
        if let backend = expect.backend {
            if !outcome.reaches(backend) {
                mismatches.append("expected backend \(backend), got \(outcome.describeBackends(like: backend))")
            }
        }
        if let status = expect.status, status != outcome.status {
            mismatches.append("expected status \(status), got \(outcome.status)")
        }
        if let path = expect.path {
            // Compared with the query only when the expectation writes one.
            let got = path.contains("?") ? outcome.upstreamTarget : outcome.upstreamPath
            if got != path {
                mismatches.append("expected path \(path), got \(got ?? "none (not forwarded)")")
            }
        }
        for (name, value) in expect.headers.sorted(by: { $0.key < $1.key }) {
            let got = outcome.headers[name.lowercased()]
            if got != value {
                mismatches.append("expected header \(name.lowercased()): \(value), got \(got ?? "none")")
            }
        }
        return RouteTestResult(
            name: test.name, location: test.location, outcome: outcome, mismatches: mismatches)
    }
}

/// What the gateway would do with one request.
public struct RouteOutcome: Sendable, Equatable, Codable {
    /// The matched route's host and name; nil when no route matched.
    public var virtualHost: String?
    public var route: String?
    public var status: Int
    /// Clusters the request may be forwarded to (weight above 0), in table order.
    public var backends: [ServiceRef]
    public var clusters: [String]
    /// The path (and `?query` target) the backend receives; nil when not forwarded.
    public var upstreamPath: String?
    public var upstreamTarget: String?
    /// Response headers the gateway itself sets (names lowercased): `location` for redirects.
    public var headers: [String: String]

    static func evaluate(_ request: RouteTestRequest, in table: RouteTable, preferring expected: String?) -> RouteOutcome {
        let facts = request.facts
        guard let (vhost, route) = table.match(facts) else {
            return RouteOutcome(
                virtualHost: nil, route: nil, status: 404, backends: [], clusters: [], upstreamPath: nil,
                upstreamTarget: nil, headers: [:])
        }
        var outcome = RouteOutcome(
            virtualHost: vhost.host, route: route.name, status: 404, backends: [], clusters: [], upstreamPath: nil,
            upstreamTarget: nil, headers: [:])
        if let redirect = route.action.redirect {
            outcome.status = redirect.status
            outcome.headers["location"] = redirect.location
        } else if let direct = route.action.directResponse {
            outcome.status = direct.status
        } else if let forward = route.action.forward {
            let live = forward.backends.filter { $0.weight > 0 }
            outcome.clusters = live.map(\.cluster)
            outcome.backends = live.map { backend in
                table.cluster(named: backend.cluster)?.service ?? ServiceRef(parsing: backend.cluster)
            }
            // The status is that of the backend the test asks about, when the route can reach it.
            let chosen =
                expected.flatMap { e in live.first { RouteOutcome.names(e, cluster: $0.cluster, in: table) } }
                ?? live.first
            let hasEndpoints = chosen.flatMap { table.cluster(named: $0.cluster) }.map { !$0.endpoints.isEmpty } ?? false
            outcome.status = hasEndpoints ? 200 : 503
            let (path, query) = Upstream.target(for: route, path: facts.path, query: facts.query)
            outcome.upstreamPath = path
            outcome.upstreamTarget = query.isEmpty ? path : path + "?" + query
        }
        return outcome
    }

    /// Whether `expected` (service name, `namespace/name` or cluster name) is a possible backend.
    func reaches(_ expected: String) -> Bool {
        zip(clusters, backends).contains { cluster, service in RouteOutcome.names(expected, cluster: cluster, service: service) }
    }

    static func names(_ expected: String, cluster: String, in table: RouteTable) -> Bool {
        let service = table.cluster(named: cluster)?.service ?? ServiceRef(parsing: cluster)
        return names(expected, cluster: cluster, service: service)
    }

    static func names(_ expected: String, cluster: String, service: ServiceRef) -> Bool {
        if expected == cluster { return true }
        if expected.contains("/") { return expected == "\(service.namespace)/\(service.name)" }
        return expected == service.name
    }

    /// The backends in the form the expectation was written in, so the message compares like with like.
    func describeBackends(like expected: String) -> String {
        if route == nil { return "no route (404)" }
        if clusters.isEmpty {
            if let location = headers["location"] { return "a redirect to \(location) (\(status))" }
            return "a direct response (\(status))"
        }
        let names = zip(clusters, backends).map { cluster, service in
            if expected.contains(":") { return cluster }
            if expected.contains("/") { return "\(service.namespace)/\(service.name)" }
            return service.name
        }
        return names.joined(separator: ", ")
    }
}

/// The path a backend receives for a matched route.
enum Upstream {
    /// Today routes forward the request path unchanged. Path rewrites (MSE `rewrite-target`) will be a
    /// property of the route's action; applying them here keeps route tests and the data plane in step.
    static func target(for route: Route, path: String, query: String) -> (path: String, query: String) {
        (path, query)
    }
}

extension RouteTestRequest {
    /// The routing facts: header names lowercased, cookies folded into one `Cookie` header.
    public var facts: RequestFacts {
        var headers = self.headers
        if !cookies.isEmpty {
            let cookie = cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
            if let existing = headers.first(where: { $0.key.lowercased() == "cookie" }) {
                headers[existing.key] = existing.value + "; " + cookie
            } else {
                headers["cookie"] = cookie
            }
        }
        return RequestFacts(method: method, host: host, target: path, headers: headers)
    }
}

extension ServiceRef {
    /// A cluster name `namespace/service:port` that is missing from the table's clusters.
    init(parsing cluster: String) {
        let slash = cluster.firstIndex(of: "/")
        let colon = cluster.lastIndex(of: ":")
        let namespace = slash.map { String(cluster[..<$0]) } ?? ""
        let nameStart = slash.map { cluster.index(after: $0) } ?? cluster.startIndex
        let nameEnd = colon.flatMap { $0 > nameStart ? $0 : nil } ?? cluster.endIndex
        let port = colon.flatMap { Int(cluster[cluster.index(after: $0)...]) } ?? 0
        self.init(namespace: namespace, name: String(cluster[nameStart..<nameEnd]), port: port)
    }
}

public struct RouteTestResult: Sendable, Equatable {
    public var name: String
    public var location: SourceLocation
    public var outcome: RouteOutcome
    /// Empty when the test passed.
    public var mismatches: [String]

    public var passed: Bool { mismatches.isEmpty }

    /// `file:line:column: error: test "name": expected backend web, got api`: the compiler form, so
    /// editors and CI annotate it, and so it can travel with the other diagnostics.
    public var diagnostic: Diagnostic? {
        guard !passed else { return nil }
        return .error("test \(RouteTestResult.quoted(name)): " + mismatches.joined(separator: "; "), at: location)
    }

    static func quoted(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}

public struct RouteTestReport: Sendable, Equatable {
    /// In file order, then test order.
    public var results: [RouteTestResult]

    public init(results: [RouteTestResult] = []) { self.results = results }

    public var failures: [RouteTestResult] { results.filter { !$0.passed } }
    public var passed: Bool { results.allSatisfy(\.passed) }
    public var diagnostics: [Diagnostic] { failures.compactMap(\.diagnostic) }

    /// `12 tests, 1 failed`.
    public var summary: String {
        let n = results.count
        return "\(n) test\(n == 1 ? "" : "s"), \(failures.count) failed"
    }
}
