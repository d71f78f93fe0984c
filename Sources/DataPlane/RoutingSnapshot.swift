import Foundation
import RouteModel

/// One revision's routing, frozen for serving: built once from a `RouteTable`, then only read.
///
/// Like Hummingbird's `RouterTrie`, the build-time structure (the table) and the match-time
/// structure (this) are different types. Matching costs do not grow with the number of routes:
/// hosts are dictionary lookups; within a host, Exact paths are a dictionary, Prefix paths a
/// dictionary of normalised prefixes probed once per path segment, and only regex routes are
/// tried one by one. First match in the table's order wins, so the answer is the smallest route
/// index among the candidates whose predicates hold.
public final class RoutingSnapshot: Sendable {
    public let table: RouteTable
    public let revision: String?
    /// When the snapshot was built (for `/revision`).
    public let createdAt: Date
    let exactHosts: [String: VirtualHostMatcher]
    /// Keyed by the suffix after `*`, e.g. `.example.com`.
    let wildcardHosts: [String: VirtualHostMatcher]
    let anyHost: VirtualHostMatcher?
    /// Clusters by name, with their ready endpoints.
    public let clusters: [String: ClusterTarget]

    public init(table: RouteTable) {
        self.table = table
        self.revision = table.revision
        self.createdAt = Date()
        var exact: [String: VirtualHostMatcher] = [:]
        var wildcard: [String: VirtualHostMatcher] = [:]
        var any: VirtualHostMatcher?
        let clusters = Dictionary(uniqueKeysWithValues: table.clusters.map { ($0.name, ClusterTarget($0)) })
        for vhost in table.virtualHosts {
            let matcher = VirtualHostMatcher(vhost, clusters: clusters)
            switch vhost.kind {
            case .exact: exact[vhost.host.lowercased()] = matcher
            case .wildcard: wildcard[String(vhost.host.lowercased().dropFirst())] = matcher
            case .any: any = matcher
            }
        }
        exactHosts = exact
        wildcardHosts = wildcard
        anyHost = any
        self.clusters = clusters
    }

    /// The route for a request, trying the exact host, then its one-label wildcard, then `*`
    /// (MSE and Higress fall through when the exact host has no matching route).
    /// `host` must already be lowercased and stripped of its port (`RequestFacts.normalizedHost`).
    public func route(host: String, path: Substring, method: String, headers: (String) -> String?, query: Substring) -> Route? {
        entry(host: host, path: path, method: method, headers: headers, query: query)?.route
    }

    /// As `route`, as a reference: the hot path keeps it for the whole exchange without copying the route's fields.
    func entry(host: String, path: Substring, method: String, headers: (String) -> String?, query: Substring) -> RouteEntry? {
        if let matcher = exactHosts[host], let entry = matcher.match(path: path, method: method, headers: headers, query: query) {
            return entry
        }
        if let dot = host.firstIndex(of: "."), dot != host.startIndex,
            let matcher = wildcardHosts[String(host[dot...])],
            let entry = matcher.match(path: path, method: method, headers: headers, query: query)
        {
            return entry
        }
        return anyHost?.match(path: path, method: method, headers: headers, query: query)
    }
}

/// A cluster as the proxy uses it: its ready endpoints, in table order.
public final class ClusterTarget: Sendable {
    public let name: String
    public let endpoints: [Endpoint]
    /// Ready endpoints; when none is ready, every endpoint (better a try than a certain 503).
    public let usable: [Endpoint]
    /// `usable` as pool keys, made once rather than per request.
    let keys: [EndpointKey]

    init(_ cluster: Cluster) {
        name = cluster.name
        endpoints = cluster.endpoints
        let ready = cluster.endpoints.filter(\.ready)
        usable = ready.isEmpty ? cluster.endpoints : ready
        keys = usable.map(EndpointKey.init)
    }
}

/// The routes of one virtual host with their lookup indexes.
struct VirtualHostMatcher: Sendable {
    let routes: [Route]
    /// Exact path → route indices, ascending.
    let exact: [String: [Int]]
    let exactIgnoringCase: [String: [Int]]
    /// Normalised prefix (no trailing slash; `/` for the root) → route indices, ascending.
    let prefix: [String: [Int]]
    let prefixIgnoringCase: [String: [Int]]
    let regex: [(index: Int, expression: NSRegularExpressionBox)]
    /// Routes with predicates beyond the path.
    let needsPredicates: [Bool]
    let entries: [RouteEntry]

    init(_ vhost: VirtualHost, clusters: [String: ClusterTarget]) {
        routes = vhost.routes
        entries = vhost.routes.map { RouteEntry($0, clusters: clusters) }
        var exact: [String: [Int]] = [:]
        var exactIgnoringCase: [String: [Int]] = [:]
        var prefix: [String: [Int]] = [:]
        var prefixIgnoringCase: [String: [Int]] = [:]
        var regex: [(Int, NSRegularExpressionBox)] = []
        for (i, route) in vhost.routes.enumerated() {
            let path = route.match.path
            let ignoreCase = path.ignoreCase == true
            switch path.kind {
            case .exact:
                if ignoreCase {
                    exactIgnoringCase[path.value.lowercased(), default: []].append(i)
                } else {
                    exact[path.value, default: []].append(i)
                }
            case .prefix:
                let key = Self.normalizedPrefix(Substring(ignoreCase ? path.value.lowercased() : path.value))
                if ignoreCase { prefixIgnoringCase[key, default: []].append(i) } else { prefix[key, default: []].append(i) }
            case .regex:
                if let box = NSRegularExpressionBox(pattern: path.value, ignoreCase: ignoreCase) { regex.append((i, box)) }
            }
        }
        self.exact = exact
        self.exactIgnoringCase = exactIgnoringCase
        self.prefix = prefix
        self.prefixIgnoringCase = prefixIgnoringCase
        self.regex = regex
        self.needsPredicates = vhost.routes.map { r in
            !(r.match.headers ?? []).isEmpty || !(r.match.queryParameters ?? []).isEmpty || !(r.match.methods ?? []).isEmpty
        }
    }

    static func normalizedPrefix(_ p: Substring) -> String {
        var v = p
        while v.count > 1 && v.hasSuffix("/") { v = v.dropLast() }
        return v.isEmpty ? "/" : String(v)
    }

    func match(path: Substring, method: String, headers: (String) -> String?, query: Substring) -> RouteEntry? {
        var best = Int.max
        func consider(_ indices: [Int]?) {
            guard let indices else { return }
            for i in indices where i < best {
                if !needsPredicates[i] || predicatesHold(routes[i].match, method: method, headers: headers, query: query) {
                    best = i
                    return
                }
            }
        }
        let pathString = String(path)
        consider(exact[pathString])
        if !exactIgnoringCase.isEmpty { consider(exactIgnoringCase[pathString.lowercased()]) }
        if !prefix.isEmpty { probePrefixes(of: path, in: prefix, consider) }
        if !prefixIgnoringCase.isEmpty { probePrefixes(of: Substring(pathString.lowercased()), in: prefixIgnoringCase, consider) }
        for (i, expression) in regex where i < best {
            if expression.matchesPrefix(pathString),
                !needsPredicates[i] || predicatesHold(routes[i].match, method: method, headers: headers, query: query)
            {
                best = i
                break
            }
        }
        return best == Int.max ? nil : entries[best]
    }

    /// Probes `/`, `/a`, `/a/b`, … for the path `/a/b/...`: element-wise prefix matching in O(segments).
    func probePrefixes(of path: Substring, in table: [String: [Int]], _ consider: ([Int]?) -> Void) {
        consider(table["/"])
        var index = path.startIndex
        guard index < path.endIndex, path[index] == "/" else { return }
        index = path.index(after: index)
        while index < path.endIndex {
            let next = path[index...].firstIndex(of: "/") ?? path.endIndex
            if next > index { consider(table[String(path[path.startIndex..<next])]) }
            if next == path.endIndex { break }
            index = path.index(after: next)
        }
    }

    func predicatesHold(_ match: RouteMatch, method: String, headers: (String) -> String?, query: Substring) -> Bool {
        if let methods = match.methods, !methods.isEmpty, !methods.contains(method) { return false }
        for h in match.headers ?? [] where !h.matches(headers(h.name.lowercased())) { return false }
        if let params = match.queryParameters, !params.isEmpty {
            let facts = RequestFacts(host: "", path: "/", query: String(query))
            let q = facts.queryParameters
            for p in params where !p.matches(q[p.name]) { return false }
        }
        return true
    }
}

/// `NSRegularExpression` is thread-safe for matching but not marked `Sendable`.
final class NSRegularExpressionBox: @unchecked Sendable {
    let expression: NSRegularExpression

    init?(pattern: String, ignoreCase: Bool) {
        guard let e = try? NSRegularExpression(pattern: "^(?:" + pattern + ")", options: ignoreCase ? [.caseInsensitive] : []) else {
            return nil
        }
        expression = e
    }

    func matchesPrefix(_ s: String) -> Bool {
        expression.firstMatch(in: s, options: [.anchored], range: NSRange(s.startIndex..., in: s)) != nil
    }
}

/// One route of a snapshot, by reference, with its backends resolved to their clusters.
final class RouteEntry: Sendable {
    let route: Route
    /// The forward's backends (nil: a cluster the table does not define) with their weights.
    let backends: [(cluster: ClusterTarget?, weight: Int)]
    let totalWeight: Int

    init(_ route: Route, clusters: [String: ClusterTarget]) {
        self.route = route
        backends = (route.action.forward?.backends ?? []).map { (clusters[$0.cluster], $0.weight) }
        totalWeight = backends.reduce(0) { $0 + max(0, $1.weight) }
    }

    /// The backend for one request: weighted random among several, `random(n)` in `0..<n`.
    @inline(__always)
    func pickBackend(_ random: (Int) -> Int) -> ClusterTarget? {
        if backends.count == 1 { return backends[0].cluster }
        guard totalWeight > 0 else { return backends.first?.cluster }
        var n = random(totalWeight)
        for b in backends where b.weight > 0 {
            if n < b.weight { return b.cluster }
            n -= b.weight
        }
        return backends.last?.cluster
    }
}
