import RouteModel
import RouteTesting
import Testing

/// Route tests evaluated against small hand-built tables: the outcome the data plane would give.
struct RouteTesterTests {
    static let here = SourceLocation(file: "shop.routetest.yaml", line: 3, column: 3)

    static let table: RouteTable = {
        func route(_ name: String, _ match: RouteMatch, _ action: RouteAction) -> Route {
            Route(name: name, match: match, action: action, source: RouteSource(object: "Ingress/shop/shop", location: here))
        }
        let shop = VirtualHost(
            host: "shop.example.com",
            routes: [
                route("exact", RouteMatch(path: .exact("/healthz")), .forward(to: "shop/web:80")),
                route(
                    "canary", RouteMatch(path: .prefix("/api"), headers: [HeaderMatch(name: "x-canary", kind: .exact, value: "true")]),
                    .forward(to: "shop/api-canary:80")),
                route(
                    "cookie", RouteMatch(path: .prefix("/api"), headers: [HeaderMatch(name: "cookie", kind: .regex, value: ".*beta=1.*")]),
                    .forward(to: "shop/api-canary:80")),
                route(
                    "split", RouteMatch(path: .prefix("/api")),
                    RouteAction(
                        forward: Forward(backends: [
                            WeightedBackend(cluster: "shop/api:80", weight: 90),
                            WeightedBackend(cluster: "shop/api-canary:80", weight: 10),
                            WeightedBackend(cluster: "shop/api-old:80", weight: 0),
                        ]))),
                route(
                    "old", RouteMatch(path: .exact("/old")),
                    RouteAction(redirect: Redirect(location: "https://shop.example.com/new", status: 301))),
                route("gone", RouteMatch(path: .exact("/gone")), RouteAction(directResponse: DirectResponse(status: 410))),
                route("empty", RouteMatch(path: .prefix("/empty")), .forward(to: "shop/empty:80")),
                route("missing", RouteMatch(path: .prefix("/missing")), .forward(to: "shop/missing:80")),
                route("root", RouteMatch(path: .prefix("/")), .forward(to: "shop/web:80")),
            ])
        let any = VirtualHost(host: "*", routes: [route("default", RouteMatch(path: .prefix("/")), .forward(to: "default/fallback:80"))])
        func cluster(_ ns: String, _ name: String, endpoints: Int) -> Cluster {
            Cluster(
                name: Cluster.name(namespace: ns, service: name, port: 80), service: ServiceRef(namespace: ns, name: name, port: 80),
                endpoints: (0..<endpoints).map { Endpoint(address: "10.0.0.\($0 + 1)", port: 8080) })
        }
        return RouteTable(
            virtualHosts: [shop, any],
            clusters: [
                cluster("shop", "web", endpoints: 2), cluster("shop", "api", endpoints: 1),
                cluster("shop", "api-canary", endpoints: 1), cluster("shop", "api-old", endpoints: 1),
                cluster("shop", "empty", endpoints: 0), cluster("default", "fallback", endpoints: 1),
            ])
    }()

    static let noDefault = RouteTable(virtualHosts: [table.virtualHosts[0]], clusters: table.clusters)

    func run(
        _ request: RouteTestRequest, _ expect: RouteTestExpectation, table: RouteTable = RouteTesterTests.table
    ) -> RouteTestResult {
        RouteTester.run(
            RouteTestCase(name: "t", request: request, expect: expect, location: Self.here), file: Self.here.file,
            against: table)
    }

    func request(_ path: String, method: String = "GET", headers: [String: String] = [:], cookies: [String: String] = [:])
        -> RouteTestRequest
    {
        RouteTestRequest(method: method, host: "shop.example.com", path: path, headers: headers, cookies: cookies, location: Self.here)
    }

    func expect(backend: String? = nil, status: Int? = nil, path: String? = nil, headers: [String: String] = [:])
        -> RouteTestExpectation
    {
        RouteTestExpectation(backend: backend, status: status, path: path, headers: headers, location: Self.here)
    }

    @Test func forwardToABackendWithEndpointsIs200() {
        let result = run(request("/healthz"), expect(backend: "web", status: 200, path: "/healthz"))
        #expect(result.passed, "\(result.mismatches)")
        #expect(result.outcome.route == "exact")
    }

    @Test(arguments: ["web", "shop/web", "shop/web:80"])
    func backendMayBeNamedThreeWays(_ name: String) {
        #expect(run(request("/"), expect(backend: name)).passed)
    }

    @Test func wrongBackendIsReportedInTheSameFormAsExpected() {
        let result = run(request("/"), expect(backend: "shop/api"))
        #expect(!result.passed)
        #expect(result.mismatches == ["expected backend shop/api, got shop/web"])
        #expect(
            result.diagnostic?.description
                == "shop.routetest.yaml:3:3: error: test \"t\": expected backend shop/api, got shop/web")
    }

    @Test func weightedBackendsPassForAnyBackendWithWeight() {
        #expect(run(request("/api/orders"), expect(backend: "api", status: 200)).passed)
        #expect(run(request("/api/orders"), expect(backend: "api-canary")).passed)
        let zero = run(request("/api/orders"), expect(backend: "api-old"))
        #expect(zero.mismatches == ["expected backend api-old, got api, api-canary"])
    }

    @Test func headerAndCookieMatchers() {
        #expect(run(request("/api", headers: ["X-Canary": "true"]), expect(backend: "api-canary")).outcome.route == "canary")
        #expect(run(request("/api", cookies: ["beta": "1", "a": "b"]), expect(backend: "api-canary")).outcome.route == "cookie")
        #expect(run(request("/api", headers: ["X-Canary": "false"]), expect(backend: "api-canary")).outcome.route == "split")
    }

    @Test func redirectHasItsStatusAndLocation() {
        let ok = run(request("/old"), expect(status: 301, headers: ["Location": "https://shop.example.com/new"]))
        #expect(ok.passed, "\(ok.mismatches)")
        let bad = run(request("/old"), expect(backend: "web", status: 200, headers: ["location": "/x"]))
        #expect(
            bad.mismatches == [
                "expected backend web, got a redirect to https://shop.example.com/new (301)",
                "expected status 200, got 301",
                "expected header location: /x, got https://shop.example.com/new",
            ])
    }

    @Test func directResponseAndEmptyOrMissingClusters() {
        #expect(run(request("/gone"), expect(status: 410)).passed)
        #expect(run(request("/empty"), expect(backend: "empty", status: 503)).passed)
        #expect(run(request("/missing/x"), expect(backend: "shop/missing", status: 503)).passed)
    }

    @Test func noRouteIs404AndFallsThroughToTheCatchAll() {
        let other = RouteTestRequest(host: "other.example.com", path: "/", location: Self.here)
        #expect(run(other, expect(backend: "fallback", status: 200)).passed)
        let result = run(other, expect(backend: "web", status: 200), table: Self.noDefault)
        #expect(result.mismatches == ["expected backend web, got no route (404)", "expected status 200, got 404"])
    }

    @Test func upstreamPathIsTheRequestPathWithOrWithoutQuery() {
        #expect(run(request("/api/orders?id=7"), expect(path: "/api/orders")).passed)
        #expect(run(request("/api/orders?id=7"), expect(path: "/api/orders?id=7")).passed)
        let result = run(request("/api/orders"), expect(path: "/orders"))
        #expect(result.mismatches == ["expected path /orders, got /api/orders"])
        #expect(run(request("/old"), expect(path: "/old")).mismatches == ["expected path /old, got none (not forwarded)"])
    }

    @Test func methodsAndHostPortsAreHonoured() {
        var table = Self.table
        table.virtualHosts[0].routes.insert(
            Route(
                name: "post", match: RouteMatch(path: .exact("/healthz"), methods: ["POST"]), action: .forward(to: "shop/api:80"),
                source: RouteSource(object: "x", location: Self.here)), at: 0)
        #expect(run(request("/healthz", method: "POST"), expect(backend: "api"), table: table).passed)
        #expect(run(request("/healthz"), expect(backend: "web"), table: table).passed)
        let withPort = RouteTestRequest(host: "Shop.Example.com:8443", path: "/healthz", location: Self.here)
        #expect(run(withPort, expect(backend: "web")).passed)
    }

    @Test func reportSummaryCountsFailures() {
        let file = RouteTestFile(
            path: "a.routetest.yaml",
            tests: [
                RouteTestCase(name: "ok", request: request("/"), expect: expect(backend: "web"), location: Self.here),
                RouteTestCase(name: "bad", request: request("/"), expect: expect(status: 404), location: Self.here),
            ])
        let report = RouteTester.run([file], against: Self.table)
        #expect(report.summary == "2 tests, 1 failed")
        #expect(!report.passed)
        #expect(report.diagnostics.map(\.message) == ["test \"bad\": expected status 404, got 200"])
        #expect(RouteTester.run([], against: Self.table).summary == "0 tests, 0 failed")
    }
}
