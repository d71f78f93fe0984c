import Foundation

/// The facts of a request that routing looks at.
public struct RequestFacts: Sendable, Equatable {
    public var method: String
    public var host: String
    public var path: String
    public var query: String
    /// Header names lowercased.
    public var headers: [String: String]

    public init(method: String = "GET", host: String, path: String, query: String = "", headers: [String: String] = [:]) {
        self.method = method
        self.host = host
        self.path = path
        self.query = query
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { a, _ in a })
    }

    /// Splits `/a/b?x=1` into path and query.
    public init(method: String = "GET", host: String, target: String, headers: [String: String] = [:]) {
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        self.init(
            method: method, host: host, path: String(parts.first ?? "/"), query: parts.count > 1 ? String(parts[1]) : "",
            headers: headers)
    }

    /// The host without port, lowercased: routing ignores both (RFC 9110 §4.2.3).
    public var normalizedHost: String {
        var h = Substring(host.lowercased())
        if h.hasPrefix("[") {  // IPv6 literal
            if let end = h.firstIndex(of: "]") { h = h[...end] }
        } else if let colon = h.lastIndex(of: ":") {
            h = h[..<colon]
        }
        while h.hasSuffix(".") { h = h.dropLast() }
        return String(h)
    }

    public var queryParameters: [String: String] {
        var out: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(kv[0]).removingPercentEncoding ?? String(kv[0])
            if out[key] == nil {
                out[key] = kv.count > 1 ? (String(kv[1]).removingPercentEncoding ?? String(kv[1])) : ""
            }
        }
        return out
    }
}

extension RouteTable {
    /// Virtual hosts that may serve `host`, in the order they are tried: the exact host, then the one-label
    /// wildcard (`*.example.com` for `a.example.com`), then `*`. Like MSE and Higress, a request that matches
    /// no route of the exact host falls through to the wildcard host, then to `*` (ingress-nginx would not).
    public func candidateVirtualHosts(for host: String) -> [VirtualHost] {
        let facts = RequestFacts(host: host, path: "/")
        let name = facts.normalizedHost
        var names = [name]
        if let dot = name.firstIndex(of: "."), dot != name.startIndex {
            names.append("*" + name[dot...])
        }
        names.append("*")
        return names.compactMap { n in virtualHosts.first { $0.host == n } }
    }

    /// The route that serves a request: the reference semantics the data plane and route tests follow.
    public func match(_ request: RequestFacts) -> (virtualHost: VirtualHost, route: Route)? {
        for vhost in candidateVirtualHosts(for: request.host) {
            if let route = vhost.routes.first(where: { $0.match.matches(request) }) {
                return (vhost, route)
            }
        }
        return nil
    }
}

extension RouteMatch {
    public func matches(_ request: RequestFacts) -> Bool {
        guard path.matches(request.path) else { return false }
        if let methods, !methods.contains(request.method.uppercased()) { return false }
        for h in headers ?? [] where !h.matches(request.headers[h.name.lowercased()]) { return false }
        if let queryParameters, !queryParameters.isEmpty {
            let q = request.queryParameters
            for p in queryParameters where !p.matches(q[p.name]) { return false }
        }
        return true
    }
}

extension HeaderMatch {
    public func matches(_ actual: String?) -> Bool {
        guard let actual else { return false }
        switch kind {
        case .present: return true
        case .exact: return actual == value
        case .prefix: return actual.hasPrefix(value ?? "")
        case .regex:
            guard let value, let re = try? NSRegularExpression(pattern: "^(?:" + value + ")$") else { return false }
            return re.firstMatch(in: actual, range: NSRange(actual.startIndex..., in: actual)) != nil
        }
    }
}
