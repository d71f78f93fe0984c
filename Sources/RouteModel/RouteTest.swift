/// Route tests as written in a routing repository (`*.routetest.yaml`): requests and what must happen
/// to them. The values live here, in the vocabulary module, so that `Manifests` (which owns YAML) can
/// decode them and `RouteTesting` can run them without either importing the other.
public struct RouteTestFile: Sendable, Equatable {
    /// Repository-relative, `/`-separated.
    public var path: String
    public var tests: [RouteTestCase]

    public init(path: String, tests: [RouteTestCase]) {
        self.path = path
        self.tests = tests
    }
}

/// One test: a request and its expected outcome.
public struct RouteTestCase: Sendable, Equatable {
    public var name: String
    public var request: RouteTestRequest
    public var expect: RouteTestExpectation
    /// The start of the test's entry in the `tests` list: where its failures point.
    public var location: SourceLocation

    public init(name: String, request: RouteTestRequest, expect: RouteTestExpectation, location: SourceLocation) {
        self.name = name
        self.request = request
        self.expect = expect
        self.location = location
    }
}

public struct RouteTestRequest: Sendable, Equatable {
    /// Upper-cased; `GET` when not written.
    public var method: String
    public var host: String
    /// The request target: a path, possibly with `?query`.
    public var path: String
    /// Names as written; matching lowercases them.
    public var headers: [String: String]
    /// Sent as one `Cookie` header, sorted by name.
    public var cookies: [String: String]
    /// Accepted for forward compatibility (IP access control); no route in the table matches on it yet.
    public var sourceIP: String?
    public var location: SourceLocation

    public init(
        method: String = "GET", host: String, path: String, headers: [String: String] = [:],
        cookies: [String: String] = [:], sourceIP: String? = nil, location: SourceLocation
    ) {
        self.method = method
        self.host = host
        self.path = path
        self.headers = headers
        self.cookies = cookies
        self.sourceIP = sourceIP
        self.location = location
    }
}

/// What must happen. Only the fields written are checked; at least one is.
public struct RouteTestExpectation: Sendable, Equatable {
    /// A service name (`web`), `namespace/name`, or a cluster name (`namespace/name:port`).
    public var backend: String?
    public var status: Int?
    /// The path the backend receives (with `?query` when written with one).
    public var path: String?
    /// Response headers (`location` for redirects); names compare case-insensitively.
    public var headers: [String: String]
    public var location: SourceLocation

    public init(
        backend: String? = nil, status: Int? = nil, path: String? = nil, headers: [String: String] = [:],
        location: SourceLocation
    ) {
        self.backend = backend
        self.status = status
        self.path = path
        self.headers = headers
        self.location = location
    }

    public var isEmpty: Bool { backend == nil && status == nil && path == nil && headers.isEmpty }
}
