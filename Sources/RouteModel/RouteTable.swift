import Foundation

/// The compiled routing of one revision, in Envoy's nouns: virtual hosts (by domain) hold ordered
/// routes (match → action); actions name clusters; clusters hold endpoints.
///
/// A `RouteTable` is a value: the compiler builds it from one commit, the planner diffs two of them,
/// and the data plane freezes one into its serving snapshot. Its canonical JSON (`canonicalJSON()`)
/// is byte-identical for the same commit on every machine, so it can be hashed, diffed and stored
/// as a golden file. It never carries secret material, only references to Secrets.
public struct RouteTable: Codable, Sendable, Equatable {
    /// The commit this table was compiled from (its full sha), when known. Only the commit, not the ref
    /// name, so the same commit gives the same bytes however it was asked for.
    public var revision: String?
    /// Sorted in matching order: exact hosts, then wildcard hosts, then the catch-all `*`.
    public var virtualHosts: [VirtualHost]
    /// Sorted by name.
    public var clusters: [Cluster]
    /// Certificates to serve, by SNI host. Sorted by host.
    public var tls: [TLSBinding]

    public init(revision: String? = nil, virtualHosts: [VirtualHost] = [], clusters: [Cluster] = [], tls: [TLSBinding] = []) {
        self.revision = revision
        self.virtualHosts = virtualHosts
        self.clusters = clusters
        self.tls = tls
    }

    public var routeCount: Int { virtualHosts.reduce(0) { $0 + $1.routes.count } }

    public func cluster(named name: String) -> Cluster? {
        clusters.first { $0.name == name }
    }
}

/// One domain pattern and its routes, first match wins (Envoy `VirtualHost`).
public struct VirtualHost: Codable, Sendable, Equatable {
    /// The host as written in the Ingress rule: `shop.example.com`, `*.example.com`, or `*` for rules without a host.
    public var host: String
    public var routes: [Route]

    public init(host: String, routes: [Route]) {
        self.host = host
        self.routes = routes
    }

    public enum Kind: Int, Comparable, Sendable {
        case exact = 0, wildcard = 1, any = 2
        public static func < (a: Kind, b: Kind) -> Bool { a.rawValue < b.rawValue }
    }

    public var kind: Kind { host == "*" ? .any : host.hasPrefix("*.") ? .wildcard : .exact }
}

/// A match and what to do with a request that satisfies it (Envoy `Route`).
public struct Route: Codable, Sendable, Equatable {
    /// Stable identity: `namespace/ingress#rule.path` (and a suffix for generated routes).
    public var name: String
    public var match: RouteMatch
    public var action: RouteAction
    /// Where the route came from, for `gitway routes` and diagnostics.
    public var source: RouteSource

    public init(name: String, match: RouteMatch, action: RouteAction, source: RouteSource) {
        self.name = name
        self.match = match
        self.action = action
        self.source = source
    }
}

public struct RouteSource: Codable, Sendable, Equatable {
    /// `Kind/namespace/name` of the object that produced the route.
    public var object: String
    public var location: SourceLocation

    public init(object: String, location: SourceLocation) {
        self.object = object
        self.location = location
    }
}

/// Envoy `RouteMatch`. Empty predicate lists are omitted from the JSON.
public struct RouteMatch: Codable, Sendable, Equatable {
    public var path: PathMatch
    public var headers: [HeaderMatch]?
    public var queryParameters: [HeaderMatch]?
    public var methods: [String]?

    public init(path: PathMatch, headers: [HeaderMatch]? = nil, queryParameters: [HeaderMatch]? = nil, methods: [String]? = nil) {
        self.path = path
        self.headers = headers
        self.queryParameters = queryParameters
        self.methods = methods
    }
}

/// How the request path is compared.
///
/// - `exact`: case-sensitive equality (`/foo` ≠ `/foo/`).
/// - `prefix`: element-wise on `/`-separated segments, a trailing slash ignored on both sides:
///   `/foo` matches `/foo`, `/foo/` and `/foo/bar`, never `/foobar` (Kubernetes Ingress `Prefix`).
/// - `regex`: RE2-style regular expression, anchored at the start (`^value`), as MSE `use-regex`.
public struct PathMatch: Codable, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Codable, Sendable, Comparable {
        case exact = "Exact", prefix = "Prefix", regex = "Regex"
        var order: Int { self == .exact ? 0 : self == .prefix ? 1 : 2 }
        public static func < (a: Kind, b: Kind) -> Bool { a.order < b.order }
    }

    public var kind: Kind
    public var value: String
    /// Set only when true (MSE `ignore-path-case`).
    public var ignoreCase: Bool?

    public init(_ kind: Kind, _ value: String, ignoreCase: Bool? = nil) {
        self.kind = kind
        self.value = value
        self.ignoreCase = ignoreCase
    }

    public static func exact(_ value: String) -> PathMatch { PathMatch(.exact, value) }
    public static func prefix(_ value: String) -> PathMatch { PathMatch(.prefix, value) }
    public static func regex(_ value: String) -> PathMatch { PathMatch(.regex, value) }

    public var description: String { "\(kind.rawValue) \(value)" }

    /// The Kubernetes path-matching rules, for route tests and the data plane's reference matcher.
    public func matches(_ requestPath: String) -> Bool {
        switch kind {
        case .exact:
            return ignoreCase == true ? requestPath.lowercased() == value.lowercased() : requestPath == value
        case .prefix:
            let (path, prefix) = ignoreCase == true ? (requestPath.lowercased(), value.lowercased()) : (requestPath, value)
            return PathMatch.prefixMatches(prefix: prefix, path: path)
        case .regex:
            let options: NSRegularExpression.Options = ignoreCase == true ? [.caseInsensitive] : []
            guard let re = try? NSRegularExpression(pattern: "^(?:" + value + ")", options: options) else { return false }
            let range = NSRange(requestPath.startIndex..., in: requestPath)
            return re.firstMatch(in: requestPath, options: [.anchored], range: range) != nil
        }
    }

    /// Element-wise prefix match: `/aaa/bb` does not match `/aaa/bbb`; `/` matches everything.
    public static func prefixMatches(prefix: String, path: String) -> Bool {
        var p = Substring(prefix)
        while p.hasSuffix("/") { p = p.dropLast() }
        if p.isEmpty { return path.hasPrefix("/") || path.isEmpty }
        guard path.hasPrefix(p) else { return false }
        let rest = path.dropFirst(p.count)
        return rest.isEmpty || rest.first == "/"
    }
}

/// A predicate on a header or query parameter.
public struct HeaderMatch: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case exact = "Exact", prefix = "Prefix", regex = "Regex", present = "Present" }
    public var name: String
    public var kind: Kind
    public var value: String?

    public init(name: String, kind: Kind, value: String?) {
        self.name = name
        self.kind = kind
        self.value = value
    }
}

/// What a matched route does. Exactly one of `forward`, `redirect`, `directResponse` is set.
public struct RouteAction: Codable, Sendable, Equatable {
    public var forward: Forward?
    public var redirect: Redirect?
    public var directResponse: DirectResponse?

    public init(forward: Forward? = nil, redirect: Redirect? = nil, directResponse: DirectResponse? = nil) {
        self.forward = forward
        self.redirect = redirect
        self.directResponse = directResponse
    }

    public static func forward(to cluster: String) -> RouteAction {
        RouteAction(forward: Forward(backends: [WeightedBackend(cluster: cluster, weight: 100)]))
    }
}

/// Proxy to one or more clusters, split by weight (Envoy `WeightedCluster`).
public struct Forward: Codable, Sendable, Equatable {
    public var backends: [WeightedBackend]
    public init(backends: [WeightedBackend]) { self.backends = backends }
}

public struct WeightedBackend: Codable, Sendable, Equatable {
    /// A `Cluster.name` of the same table.
    public var cluster: String
    public var weight: Int
    public init(cluster: String, weight: Int) {
        self.cluster = cluster
        self.weight = weight
    }
}

public struct Redirect: Codable, Sendable, Equatable {
    /// Absolute URL or a path.
    public var location: String
    public var status: Int
    public init(location: String, status: Int) {
        self.location = location
        self.status = status
    }
}

public struct DirectResponse: Codable, Sendable, Equatable {
    public var status: Int
    public var body: String?
    public init(status: Int, body: String? = nil) {
        self.status = status
        self.body = body
    }
}

/// A Service port and where its pods are (Envoy `Cluster` + `ClusterLoadAssignment`).
public struct Cluster: Codable, Sendable, Equatable {
    /// `namespace/service:port`, the port being the Service port number.
    public var name: String
    public var service: ServiceRef
    /// The protocol spoken to the endpoints: `http` until annotations say otherwise.
    public var `protocol`: String
    /// Sorted by address, then port. Empty when the service has no known endpoints (the data plane answers 503).
    public var endpoints: [Endpoint]

    public init(name: String, service: ServiceRef, protocol: String = "http", endpoints: [Endpoint]) {
        self.name = name
        self.service = service
        self.protocol = `protocol`
        self.endpoints = endpoints
    }

    public static func name(namespace: String, service: String, port: Int) -> String {
        "\(namespace)/\(service):\(port)"
    }
}

public struct ServiceRef: Codable, Sendable, Equatable, Hashable {
    public var namespace: String
    public var name: String
    /// The Service port number.
    public var port: Int
    /// The Service port name, when it has one.
    public var portName: String?

    public init(namespace: String, name: String, port: Int, portName: String? = nil) {
        self.namespace = namespace
        self.name = name
        self.port = port
        self.portName = portName
    }
}

/// One backend address. Labels carry where it runs (`zone`, `cluster`) for zone- and cluster-aware balancing.
public struct Endpoint: Codable, Sendable, Equatable, Hashable, Comparable {
    public var address: String
    public var port: Int
    public var ready: Bool
    public var labels: [String: String]?

    public init(address: String, port: Int, ready: Bool = true, labels: [String: String]? = nil) {
        self.address = address
        self.port = port
        self.ready = ready
        self.labels = labels
    }

    public static func < (a: Endpoint, b: Endpoint) -> Bool {
        (a.address, a.port, a.ready ? 0 : 1) < (b.address, b.port, b.ready ? 0 : 1)
    }
}

/// A certificate served for some SNI hosts. Only the Secret's name is recorded, never its content.
public struct TLSBinding: Codable, Sendable, Equatable {
    /// The SNI host (`*` for a TLS section without hosts: served to clients without SNI too).
    public var host: String
    /// `namespace/name` of a `kubernetes.io/tls` Secret.
    public var secret: String
    public var source: RouteSource

    public init(host: String, secret: String, source: RouteSource) {
        self.host = host
        self.secret = secret
        self.source = source
    }
}

extension RouteTable {
    /// The canonical encoding: sorted keys, two-space indentation, `/` unescaped, trailing newline.
    /// Byte-identical for equal tables, on every machine.
    public func canonicalJSON() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        // Encoding plain structs of strings, ints and bools cannot fail.
        let data = try! encoder.encode(self)
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    public static func decode(canonicalJSON data: Data) throws -> RouteTable {
        try JSONDecoder().decode(RouteTable.self, from: data)
    }
}
