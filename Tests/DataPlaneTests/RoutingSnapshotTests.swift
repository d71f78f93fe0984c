import DataPlane
import RouteModel
import Testing

/// The indexed matcher of the data plane must agree with the reference semantics of the route
/// table (`RouteTable.match`) on every request: hosts, path kinds, case, predicates, first match.
struct RoutingSnapshotTests {
    static func route(_ i: Int, _ match: RouteMatch) -> Route {
        Route(
            name: "r\(i)", match: match, action: .forward(to: "c"),
            source: RouteSource(object: "Ingress/default/t", location: SourceLocation(file: "t.yaml", line: i, column: 1)))
    }

    static let table: RouteTable = {
        let routes: [RouteMatch] = [
            RouteMatch(path: .exact("/a/b")),
            RouteMatch(path: .prefix("/a/b/c")),
            RouteMatch(path: .prefix("/a"), headers: [HeaderMatch(name: "x-canary", kind: .exact, value: "always")]),
            RouteMatch(path: .prefix("/a"), methods: ["POST"]),
            RouteMatch(path: .prefix("/a/")),
            RouteMatch(path: PathMatch(.exact, "/CaSe", ignoreCase: true)),
            RouteMatch(path: PathMatch(.prefix, "/Mixed/Dir", ignoreCase: true)),
            RouteMatch(path: .regex("/re/[0-9]+")),
            RouteMatch(path: .prefix("/q"), queryParameters: [HeaderMatch(name: "v", kind: .exact, value: "2")]),
            RouteMatch(path: .prefix("/")),
        ]
        return RouteTable(
            revision: "t",
            virtualHosts: [
                VirtualHost(host: "a.example.com", routes: routes.enumerated().map { route($0.offset, $0.element) }),
                VirtualHost(host: "*.example.com", routes: [route(100, RouteMatch(path: .prefix("/wild")))]),
                VirtualHost(host: "*", routes: [route(200, RouteMatch(path: .exact("/any")))]),
            ],
            clusters: [Cluster(name: "c", service: ServiceRef(namespace: "default", name: "c", port: 80), endpoints: [])])
    }()

    static let paths = [
        "/", "/a", "/a/", "/a/b", "/a/b/", "/a/b/c", "/a/b/c/d", "/a/bc", "/ab", "/case", "/CASE", "/case/", "/mixed/dir",
        "/MIXED/DIR/x", "/mixed/directory", "/re/123", "/re/abc", "/re/1x", "/q", "/wild", "/wild/x", "/any", "/any/",
        "/a//b", "",
    ]
    static let hosts = ["a.example.com", "A.EXAMPLE.COM:443", "b.example.com", "x.y.example.com", "other.test", "example.com"]

    @Test(arguments: hosts)
    func indexedMatcherAgreesWithReference(_ host: String) {
        let snapshot = RoutingSnapshot(table: Self.table)
        for path in Self.paths {
            for (method, headers, query) in [("GET", [:], ""), ("POST", [:], ""), ("GET", ["x-canary": "always"], "v=2")] {
                let facts = RequestFacts(method: method, host: host, path: path, query: query, headers: headers)
                let expected = Self.table.match(facts)?.route.name
                let actual = snapshot.route(
                    host: facts.normalizedHost, path: Substring(path), method: method, headers: { facts.headers[$0] },
                    query: Substring(query))?.name
                #expect(actual == expected, "\(method) \(host)\(path)?\(query) \(headers)")
            }
        }
    }

    @Test func tenThousandRoutesStillMatchByIndex() {
        let routes = (0..<10_000).map { i in Self.route(i, RouteMatch(path: i % 2 == 0 ? .exact("/e\(i)") : .prefix("/p\(i)"))) }
        let table = RouteTable(virtualHosts: [VirtualHost(host: "h", routes: routes)], clusters: [])
        let snapshot = RoutingSnapshot(table: table)
        #expect(snapshot.route(host: "h", path: "/e9998", method: "GET", headers: { _ in nil }, query: "")?.name == "r9998")
        #expect(snapshot.route(host: "h", path: "/p9999/x/y", method: "GET", headers: { _ in nil }, query: "")?.name == "r9999")
        #expect(snapshot.route(host: "h", path: "/p99990", method: "GET", headers: { _ in nil }, query: "") == nil)
    }
}
