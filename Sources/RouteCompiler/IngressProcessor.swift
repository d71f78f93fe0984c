import Manifests
import RouteModel

/// Turns each selected Ingress into routes (Ingress v1, mse-features.md §5 and §2.9).
///
/// Ingresses are visited oldest first. A route's identity is host + match; the first Ingress to
/// claim an identity keeps it and later ones get a warning naming the owner ("oldest wins", as in
/// ingress-nginx and Higress). A repeated path inside one Ingress keeps its first occurrence.
enum IngressProcessor {
    struct Claim {
        var owner: ObjectKey
        var location: SourceLocation
    }

    /// What two routes must share to conflict: host and match (a struct key avoids building strings per path).
    struct Identity: Hashable {
        var host: String
        var kind: PathMatch.Kind?  // nil: the defaultBackend of the host
        var path: String
    }

    static func run(_ b: inout Builder) {
        var claims: [Identity: Claim] = [:]
        claims.reserveCapacity(b.selected.reduce(0) { n, i in n + i.spec.rules.reduce(0) { $0 + ($1.paths?.count ?? 0) } })
        for (position, ingress) in b.selected.enumerated() {
            let problems = IngressValidation.validate(ingress)
            if problems.hasErrors {
                for d in problems { b.report(d) }
                b.excluded.append(.init(ingress: ingress.key, reason: "invalid: \(problems.errors[0].message)"))
                continue
            }
            b.served.insert(ingress.key)
            let hostsWithRootPrefix = addRules(of: ingress, position: position, claims: &claims, into: &b)
            if let backend = ingress.spec.defaultBackend {
                addDefaultBackend(
                    backend, of: ingress, position: position, skipping: hostsWithRootPrefix, claims: &claims, into: &b)
            }
        }
    }

    /// Adds the routes of `spec.rules`; returns the hosts where this Ingress has a plain `Prefix /`.
    static func addRules(
        of ingress: Ingress, position: Int, claims: inout [Identity: Claim], into b: inout Builder
    ) -> Set<String> {
        let owner = ingress.key
        let ownerName = owner.namespace + "/" + owner.name
        let objectName = "Ingress/" + ownerName
        var own: Set<Identity> = []
        var rootPrefixHosts: Set<String> = []
        for (ruleIndex, rule) in ingress.spec.rules.enumerated() {
            let host = rule.host ?? "*"
            for (pathIndex, path) in (rule.paths ?? []).enumerated() {
                let location = path.pathLocation ?? path.location
                let match = pathMatch(path)
                let identity = Identity(host: host, kind: match.kind, path: normalized(match))
                if own.contains(identity) {
                    b.report(.warning("duplicate path \(match) for host \(host) in the same Ingress; the first is used", at: location))
                    continue
                }
                if let claim = claims[identity] {
                    b.report(
                        .warning(
                            "\(host) \(match) of \(describe(owner)) conflicts with \(describe(claim.owner)) "
                                + "(defined at \(claim.location)), which is older or sorts first and wins; this path is ignored",
                            at: location))
                    continue
                }
                guard let service = path.backend.service else {
                    b.report(
                        .warning(
                            "resource backends are not supported by Gitway; path \(match) for host \(host) is ignored",
                            at: path.backend.location))
                    continue
                }
                guard let cluster = BackendResolver.cluster(for: service, namespace: owner.namespace, into: &b) else {
                    continue
                }
                own.insert(identity)
                claims[identity] = Claim(owner: owner, location: location)
                if match.kind == .prefix && normalized(match) == "/" { rootPrefixHosts.insert(host) }
                let route = Route(
                    name: ownerName + "#r" + String(ruleIndex) + ".p" + String(pathIndex),
                    match: RouteMatch(path: match),
                    action: .forward(to: cluster),
                    source: RouteSource(object: objectName, location: location))
                b.routes[host, default: []].append(
                    PendingRoute(route: route, order: (position, ruleIndex, pathIndex), isDefaultBackend: false))
            }
        }
        return rootPrefixHosts
    }

    /// `spec.defaultBackend` (Higress semantics): a lowest-priority catch-all for host `*` and for each
    /// host of the Ingress that has no `Prefix /` route of its own.
    static func addDefaultBackend(
        _ backend: IngressBackend, of ingress: Ingress, position: Int, skipping: Set<String>,
        claims: inout [Identity: Claim], into b: inout Builder
    ) {
        let owner = ingress.key
        guard let service = backend.service else {
            b.report(.warning("resource backends are not supported by Gitway; spec.defaultBackend is ignored", at: backend.location))
            return
        }
        guard let cluster = BackendResolver.cluster(for: service, namespace: owner.namespace, into: &b) else { return }
        var hosts: [String] = ["*"]
        for rule in ingress.spec.rules where !hosts.contains(rule.host ?? "*") { hosts.append(rule.host ?? "*") }
        for host in hosts where !skipping.contains(host) {
            let identity = Identity(host: host, kind: nil, path: "")
            if let claim = claims[identity] {
                b.report(
                    .warning(
                        "spec.defaultBackend of \(describe(owner)) for host \(host) conflicts with the one of "
                            + "\(describe(claim.owner)) (defined at \(claim.location)), which is older or sorts first and wins",
                        at: backend.location))
                continue
            }
            // An explicit `Prefix /` route on the host already catches everything.
            if claims[Identity(host: host, kind: .prefix, path: "/")] != nil { continue }
            claims[identity] = Claim(owner: owner, location: backend.location)
            let route = Route(
                name: "\(owner.namespace)/\(owner.name)#default",
                match: RouteMatch(path: .prefix("/")),
                action: .forward(to: cluster),
                source: RouteSource(object: owner.description, location: backend.location))
            b.routes[host, default: []].append(
                PendingRoute(route: route, order: (position, Int.max, 0), isDefaultBackend: true))
        }
    }

    /// Exact → exact; Prefix and ImplementationSpecific → element-wise prefix (as Higress); no path → `/`.
    static func pathMatch(_ path: HTTPIngressPath) -> PathMatch {
        let value = (path.path?.isEmpty ?? true) ? "/" : path.path!
        return path.pathType == .exact ? .exact(value) : .prefix(value)
    }

    /// `Prefix /foo/` and `Prefix /foo` match the same requests, so they are one identity.
    static func normalized(_ match: PathMatch) -> String {
        guard match.kind == .prefix else { return match.value }
        var v = Substring(match.value)
        while v.count > 1 && v.hasSuffix("/") { v = v.dropLast() }
        return String(v)
    }

    static func describe(_ key: ObjectKey) -> String { "Ingress \(key.namespace)/\(key.name)" }
}
