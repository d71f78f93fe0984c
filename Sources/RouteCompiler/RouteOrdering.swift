import RouteModel

/// The order of routes within a host, first match wins (Higress `SortHTTPRoutes`, mse-features.md §2.9):
/// Exact, then Prefix, then regex; within a kind the longer path first; then routes with a method
/// predicate (fewer methods first), then more header predicates, then more query predicates; a plain
/// catch-all `Prefix /` after all of those, and `defaultBackend` routes last. Remaining ties keep
/// Ingress age order (oldest first), then rule and path order.
enum RouteOrdering {
    static func sorted(_ routes: [PendingRoute]) -> [PendingRoute] {
        // Sort indices, then gather: moving whole routes through the sort costs more than comparing them.
        routes.indices.sorted { precedes(routes[$0], routes[$1]) }.map { routes[$0] }
    }

    static func precedes(_ a: PendingRoute, _ b: PendingRoute) -> Bool {
        if a.isDefaultBackend != b.isDefaultBackend { return b.isDefaultBackend }
        let (ca, cb) = (isPlainCatchAll(a.route.match), isPlainCatchAll(b.route.match))
        if ca != cb { return cb }
        let (ma, mb) = (a.route.match, b.route.match)
        if ma.path.kind != mb.path.kind { return ma.path.kind < mb.path.kind }
        let (la, lb) = (ma.path.value.utf8.count, mb.path.value.utf8.count)
        if la != lb { return la > lb }
        let (methodsA, methodsB) = (ma.methods?.count ?? Int.max, mb.methods?.count ?? Int.max)
        if methodsA != methodsB { return methodsA < methodsB }
        let (ha, hb) = (ma.headers?.count ?? 0, mb.headers?.count ?? 0)
        if ha != hb { return ha > hb }
        let (qa, qb) = (ma.queryParameters?.count ?? 0, mb.queryParameters?.count ?? 0)
        if qa != qb { return qa > qb }
        if ma.path.value != mb.path.value { return ma.path.value < mb.path.value }
        return a.order < b.order
    }

    static func isPlainCatchAll(_ m: RouteMatch) -> Bool {
        m.path.kind == .prefix && (m.path.value == "/" || m.path.value.isEmpty) && (m.headers ?? []).isEmpty
            && (m.queryParameters ?? []).isEmpty && (m.methods ?? []).isEmpty
    }
}
