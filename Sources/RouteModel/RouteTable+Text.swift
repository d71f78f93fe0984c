/// The human rendering of a route table (`gitway routes -o table`): one line per route, in matching order.
extension RouteTable {
    public func renderText(showSource: Bool = true) -> String {
        var rows: [[String]] = [["HOST", "MATCH", "BACKENDS", "SOURCE"]]
        for vhost in virtualHosts {
            for route in vhost.routes {
                rows.append([vhost.host, route.match.summary, route.action.summary, route.source.location.description])
            }
        }
        if !showSource { rows = rows.map { Array($0.dropLast()) } }
        var widths = [Int](repeating: 0, count: rows[0].count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        var out = ""
        for row in rows {
            let cells = row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count)
            }
            out += cells.joined(separator: "  ") + "\n"
        }
        if !tls.isEmpty {
            out += "\nTLS\n"
            for binding in tls { out += "  \(binding.host) → secret \(binding.secret)\n" }
        }
        return out
    }
}

extension RouteMatch {
    /// `Prefix /api  [GET,POST]  header x-canary=always`.
    public var summary: String {
        var parts = [path.description + (path.ignoreCase == true ? " (ignore case)" : "")]
        if let methods, !methods.isEmpty { parts.append("[" + methods.joined(separator: ",") + "]") }
        for h in headers ?? [] { parts.append("header " + h.summary) }
        for q in queryParameters ?? [] { parts.append("query " + q.summary) }
        return parts.joined(separator: " ")
    }
}

extension HeaderMatch {
    public var summary: String {
        switch kind {
        case .present: return name
        case .exact: return "\(name)=\(value ?? "")"
        case .prefix: return "\(name)^=\(value ?? "")"
        case .regex: return "\(name)~\(value ?? "")"
        }
    }
}

extension RouteAction {
    /// `default/web:80` or `default/web:80 90%, default/web-canary:80 10%`, `redirect 301 https://…`.
    public var summary: String {
        if let forward {
            if forward.backends.count == 1 { return forward.backends[0].cluster }
            let total = max(1, forward.backends.reduce(0) { $0 + $1.weight })
            return forward.backends.map { "\($0.cluster) \($0.weight * 100 / total)%" }.joined(separator: ", ")
        }
        if let redirect { return "redirect \(redirect.status) \(redirect.location)" }
        if let directResponse { return "respond \(directResponse.status)" }
        return "-"
    }
}
