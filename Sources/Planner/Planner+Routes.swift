import Foundation
import RouteModel

extension Planner {
    /// The route part of a plan alone (the agent's ledger counts route changes with it).
    public static func routeDiff(live: RouteTable, desired: RouteTable) -> RouteDiff { diffRoutes(live: live, desired: desired) }

    /// Pairs virtual hosts by host and routes by match; TLS bindings by host; clusters by name.
    static func diffRoutes(live: RouteTable, desired: RouteTable) -> RouteDiff {
        var diff = RouteDiff()
        let liveHosts = Dictionary(live.virtualHosts.map { ($0.host, $0) }, uniquingKeysWith: { a, _ in a })
        let desiredHosts = Dictionary(desired.virtualHosts.map { ($0.host, $0) }, uniquingKeysWith: { a, _ in a })
        let allHosts = Set(liveHosts.keys).union(desiredHosts.keys).sorted {
            let (a, b) = (VirtualHost(host: $0, routes: []).kind, VirtualHost(host: $1, routes: []).kind)
            return a == b ? $0 < $1 : a < b
        }
        for host in allHosts {
            let (a, b) = (liveHosts[host]?.routes ?? [], desiredHosts[host]?.routes ?? [])
            let (changes, unchanged) = diffRoutes(live: a, desired: b)
            diff.unchangedRoutes += unchanged
            let reordered = orderChanged(live: a, desired: b)
            guard !changes.isEmpty || reordered else { continue }
            let change: HostDiff.Change = liveHosts[host] == nil ? .added : desiredHosts[host] == nil ? .removed : .changed
            diff.hosts.append(HostDiff(host: host, change: change, routes: changes, orderChanged: reordered ? true : nil))
        }
        diff.tls = diffTLS(live: live.tls, desired: desired.tls)
        diff.clusters = diffClusters(live: live.clusters, desired: desired.clusters)
        return diff
    }

    /// The identity of a route within its host: its match, canonically encoded; a second route with the
    /// same match (unreachable, but possible) is told apart by its position among those.
    static func keys(_ routes: [Route]) -> [String] {
        var seen: [String: Int] = [:]
        return routes.map { route in
            let key = canonical(route.match)
            let n = seen[key, default: 0]
            seen[key] = n + 1
            return n == 0 ? key : key + "#\(n)"
        }
    }

    /// Whether the routes present on both sides appear in another relative order.
    static func orderChanged(live: [Route], desired: [Route]) -> Bool {
        let (a, b) = (keys(live), keys(desired))
        let common = Set(a).intersection(b)
        return a.filter(common.contains) != b.filter(common.contains)
    }

    static func diffRoutes(live: [Route], desired: [Route]) -> ([RouteChange], Int) {
        let liveKeys = keys(live)
        let desiredKeys = keys(desired)
        var liveByKey: [String: Route] = [:]
        for (key, route) in zip(liveKeys, live) { liveByKey[key] = route }
        let desiredKeySet = Set(desiredKeys)
        var changes: [RouteChange] = []
        var unchanged = 0
        for (key, route) in zip(desiredKeys, desired) {
            guard let old = liveByKey[key] else {
                changes.append(
                    RouteChange(
                        change: .added, match: route.match, before: nil, after: route.action,
                        policies: policies(of: route).keys.sorted(), source: route.source.location))
                continue
            }
            let (aspects, policyNames) = compare(old, route)
            if aspects.isEmpty {
                unchanged += 1
            } else {
                changes.append(
                    RouteChange(
                        change: .changed, match: route.match, before: old.action, after: route.action, aspects: aspects,
                        policies: policyNames, source: route.source.location))
            }
        }
        for (key, route) in zip(liveKeys, live) where !desiredKeySet.contains(key) {
            changes.append(
                RouteChange(
                    change: .removed, match: route.match, before: route.action, after: nil,
                    policies: policies(of: route).keys.sorted(), source: route.source.location))
        }
        return (changes, unchanged)
    }

    /// What differs between two routes with the same match. The route's name and source are not
    /// compared: they say where a route is written, not what it does.
    static func compare(_ a: Route, _ b: Route) -> ([RouteChange.Aspect], [String]) {
        var aspects: [RouteChange.Aspect] = []
        switch (a.action.forward, b.action.forward, a.action.redirect, b.action.redirect) {
        case (let x?, let y?, _, _):
            if x.backends.map(\.cluster).sorted() != y.backends.map(\.cluster).sorted() {
                aspects.append(.backends)
            } else if weights(x) != weights(y) {
                aspects.append(.weights)
            } else if x != y {
                aspects.append(.action)
            }
        case (nil, nil, let x?, let y?):
            if x != y { aspects.append(.redirect) }
        case (nil, nil, nil, nil):
            if a.action.directResponse != b.action.directResponse { aspects.append(.response) }
        default:
            aspects.append(.action)
        }
        let (pa, pb) = (policies(of: a), policies(of: b))
        let changed = Set(pa.keys).union(pb.keys).filter { pa[$0] != pb[$0] }.sorted()
        if !changed.isEmpty { aspects.append(.policies) }
        return (aspects, changed)
    }

    static func weights(_ f: Forward) -> [String: Int] {
        f.backends.reduce(into: [:]) { $0[$1.cluster, default: 0] += $1.weight }
    }

    /// Every field of a route other than its name, match, action and source, as canonical JSON by key:
    /// the route's policies, whatever the model grows (timeouts, retries, CORS, …).
    static func policies(of route: Route) -> [String: String] {
        guard let data = try? JSONEncoder().encode(route),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return [:] }
        var out: [String: String] = [:]
        for (key, value) in object where !["name", "match", "action", "source"].contains(key) {
            let encoded = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed])
            out[key] = encoded.map { String(decoding: $0, as: UTF8.self) } ?? ""
        }
        return out
    }

    static func canonical<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    static func diffTLS(live: [TLSBinding], desired: [TLSBinding]) -> [TLSChange] {
        let a = Dictionary(live.map { ($0.host, $0.secret) }, uniquingKeysWith: { x, _ in x })
        let b = Dictionary(desired.map { ($0.host, $0.secret) }, uniquingKeysWith: { x, _ in x })
        return Set(a.keys).union(b.keys).sorted().compactMap { host in
            switch (a[host], b[host]) {
            case (nil, let y?): return TLSChange(host: host, change: .added, before: nil, after: y)
            case (let x?, nil): return TLSChange(host: host, change: .removed, before: x, after: nil)
            case (let x?, let y?) where x != y: return TLSChange(host: host, change: .changed, before: x, after: y)
            default: return nil
            }
        }
    }

    static func diffClusters(live: [Cluster], desired: [Cluster]) -> [ClusterChange] {
        let a = Dictionary(live.map { ($0.name, $0) }, uniquingKeysWith: { x, _ in x })
        let b = Dictionary(desired.map { ($0.name, $0) }, uniquingKeysWith: { x, _ in x })
        func address(_ e: Endpoint) -> String { "\(e.address):\(e.port)" }
        return Set(a.keys).union(b.keys).sorted().compactMap { name in
            switch (a[name], b[name]) {
            case (nil, let y?):
                return ClusterChange(
                    name: name, change: .added, endpointsBefore: 0, endpointsAfter: y.endpoints.count,
                    endpointsAdded: Set(y.endpoints.map(address)).sorted())
            case (let x?, nil):
                return ClusterChange(
                    name: name, change: .removed, endpointsBefore: x.endpoints.count, endpointsAfter: 0,
                    endpointsRemoved: Set(x.endpoints.map(address)).sorted())
            case (let x?, let y?) where x != y:
                let (before, after) = (Set(x.endpoints.map(address)), Set(y.endpoints.map(address)))
                var notes: [String] = []
                if x.protocol != y.protocol { notes.append("protocol \(x.protocol) → \(y.protocol)") }
                if x.service != y.service { notes.append("service port name changed") }
                let readiness = { (c: Cluster) in Dictionary(c.endpoints.map { (address($0), $0.ready) }, uniquingKeysWith: { p, _ in p }) }
                let (ra, rb) = (readiness(x), readiness(y))
                let flipped = before.intersection(after).filter { ra[$0] != rb[$0] }.count
                if flipped > 0 { notes.append("\(flipped) endpoint\(flipped == 1 ? "" : "s") changed readiness") }
                if notes.isEmpty, before == after, flipped == 0 { notes.append("endpoint labels changed") }
                return ClusterChange(
                    name: name, change: .changed, endpointsBefore: x.endpoints.count, endpointsAfter: y.endpoints.count,
                    endpointsAdded: after.subtracting(before).sorted(), endpointsRemoved: before.subtracting(after).sorted(),
                    notes: notes)
            default:
                return nil
            }
        }
    }
}
