import Manifests
import RouteCompiler
import RouteModel
import Testing

/// The path-matching table of the Kubernetes Ingress documentation, run through the compiler and
/// the reference matcher. Each path of a case routes to its own service `p<index>`.
struct PathMatchingTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var paths: [(PathType, String)]
        var request: String
        /// The index of the path that must match, or nil for no match.
        var expected: Int?
        var testDescription: String { "\(paths.map { "\($0.0.rawValue) \($0.1)" }) ← \(request)" }
    }

    static let cases: [Case] = [
        Case(paths: [(.prefix, "/")], request: "/anything/at/all", expected: 0),
        Case(paths: [(.exact, "/foo")], request: "/foo", expected: 0),
        Case(paths: [(.exact, "/foo")], request: "/bar", expected: nil),
        Case(paths: [(.exact, "/foo")], request: "/foo/", expected: nil),
        Case(paths: [(.exact, "/foo/")], request: "/foo", expected: nil),
        Case(paths: [(.prefix, "/foo")], request: "/foo", expected: 0),
        Case(paths: [(.prefix, "/foo")], request: "/foo/", expected: 0),
        Case(paths: [(.prefix, "/foo/")], request: "/foo", expected: 0),
        Case(paths: [(.prefix, "/foo/")], request: "/foo/", expected: 0),
        Case(paths: [(.prefix, "/aaa/bb")], request: "/aaa/bbb", expected: nil),
        Case(paths: [(.prefix, "/aaa/bbb")], request: "/aaa/bbb", expected: 0),
        Case(paths: [(.prefix, "/aaa/bbb/")], request: "/aaa/bbb", expected: 0),
        Case(paths: [(.prefix, "/aaa/bbb")], request: "/aaa/bbb/", expected: 0),
        Case(paths: [(.prefix, "/aaa/bbb")], request: "/aaa/bbb/ccc", expected: 0),
        Case(paths: [(.prefix, "/aaa/bbb")], request: "/aaa/bbbxyz", expected: nil),
        Case(paths: [(.prefix, "/"), (.prefix, "/aaa")], request: "/aaa/ccc", expected: 1),
        Case(paths: [(.prefix, "/"), (.prefix, "/aaa"), (.prefix, "/aaa/bbb")], request: "/aaa/bbb", expected: 2),
        Case(paths: [(.prefix, "/"), (.prefix, "/aaa"), (.prefix, "/aaa/bbb")], request: "/ccc", expected: 0),
        Case(paths: [(.prefix, "/aaa")], request: "/ccc", expected: nil),
        Case(paths: [(.prefix, "/foo"), (.exact, "/foo")], request: "/foo", expected: 1),
        Case(paths: [(.implementationSpecific, "/foo")], request: "/foo/bar", expected: 0),
        Case(paths: [(.implementationSpecific, "/foo")], request: "/foobar", expected: nil),
    ]

    @Test(arguments: cases)
    func kubernetesPathTable(_ c: Case) {
        let paths = c.paths.enumerated().map { i, p in Fixture.path(p.0, p.1, service: "p\(i)") }
        let services = c.paths.indices.map { Fixture.service("p\($0)") }
        let set = ManifestSet(
            objects: [.ingress(Fixture.ingress("web", host: "foo.example.com", paths: paths))] + services.map { .service($0) })
        let result = RouteCompiler.compile(set)
        #expect(!result.diagnostics.hasErrors)
        let matched = result.table.match(RequestFacts(host: "foo.example.com", path: c.request))
        let backend = matched?.route.action.forward?.backends.first?.cluster
        #expect(backend == c.expected.map { "default/p\($0):80" })
    }

    @Test func hostsAreCaseInsensitiveAndIgnoreThePort() {
        let set = ManifestSet(objects: [
            .ingress(Fixture.ingress("web", host: "foo.example.com", paths: [Fixture.path(.prefix, "/", service: "web")])),
            .service(Fixture.service("web")),
        ])
        let table = RouteCompiler.compile(set).table
        #expect(table.match(RequestFacts(host: "FOO.Example.com:8080", path: "/")) != nil)
        #expect(table.match(RequestFacts(host: "bar.example.com", path: "/")) == nil)
    }

    @Test func wildcardMatchesExactlyOneLabel() {
        let set = ManifestSet(objects: [
            .ingress(Fixture.ingress("web", host: "*.foo.com", paths: [Fixture.path(.prefix, "/", service: "web")])),
            .service(Fixture.service("web")),
        ])
        let table = RouteCompiler.compile(set).table
        #expect(table.match(RequestFacts(host: "bar.foo.com", path: "/")) != nil)
        #expect(table.match(RequestFacts(host: "baz.bar.foo.com", path: "/")) == nil)
        #expect(table.match(RequestFacts(host: "foo.com", path: "/")) == nil)
    }

    @Test func exactHostFallsThroughToWildcardThenAny() {
        let set = ManifestSet(objects: [
            .ingress(Fixture.ingress("exact", host: "a.foo.com", paths: [Fixture.path(.exact, "/only", service: "exact")])),
            .ingress(Fixture.ingress("wild", host: "*.foo.com", paths: [Fixture.path(.prefix, "/w", service: "wild")])),
            .ingress(Fixture.ingress("any", paths: [Fixture.path(.prefix, "/", service: "any")])),
            .service(Fixture.service("exact")), .service(Fixture.service("wild")), .service(Fixture.service("any")),
        ])
        let table = RouteCompiler.compile(set).table
        func backend(_ path: String) -> String? {
            table.match(RequestFacts(host: "a.foo.com", path: path))?.route.action.forward?.backends.first?.cluster
        }
        #expect(backend("/only") == "default/exact:80")
        #expect(backend("/w/x") == "default/wild:80")
        #expect(backend("/elsewhere") == "default/any:80")
        #expect(table.virtualHosts.map(\.host) == ["a.foo.com", "*.foo.com", "*"])
    }
}
