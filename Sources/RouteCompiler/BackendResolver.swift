import Manifests
import RouteModel

/// Resolves an Ingress service backend to a `Cluster`: the Service port (by number or name) and its
/// endpoints from EndpointSlices (label `kubernetes.io/service-name`), else legacy Endpoints, else an
/// ExternalName. A Service the repository does not hold is not an error (a connected cluster may
/// have it): the cluster simply has no endpoints and the data plane answers 503 until it does.
enum BackendResolver {
    /// The cluster's name, or `nil` after reporting why the backend cannot be used.
    static func cluster(for backend: IngressServiceBackend, namespace: String, into b: inout Builder) -> String? {
        let cacheKey = BackendKey(namespace: namespace, service: backend.name, port: backend.port)
        if let known = b.resolvedBackends[cacheKey] { return known }
        let resolved = resolve(backend, namespace: namespace, into: &b)
        b.resolvedBackends[cacheKey] = .some(resolved)
        return resolved
    }

    static func resolve(_ backend: IngressServiceBackend, namespace: String, into b: inout Builder) -> String? {
        let serviceKey = ObjectIndex.key(namespace, backend.name)
        guard let service = b.index.services[serviceKey] else {
            let portLabel: String
            switch backend.port {
            case .number(let n): portLabel = String(n)
            case .name(let s): portLabel = s
            }
            let name = "\(namespace)/\(backend.name):\(portLabel)"
            if b.clusters[name] == nil {
                b.report(
                    .warning(
                        "Service \(serviceKey) is not in the repository; its routes answer 503 until it has endpoints",
                        at: backend.location))
                var ref = ServiceRef(namespace: namespace, name: backend.name, port: 0)
                switch backend.port {
                case .number(let n): ref.port = n
                case .name(let s): ref.portName = s
                }
                b.clusters[name] = Cluster(name: name, service: ref, endpoints: [])
            }
            return name
        }

        let port: ServicePort?
        switch backend.port {
        case .number(let n): port = service.ports.first { $0.port == n }
        case .name(let s): port = service.ports.first { $0.name == s }
        }
        guard let port else {
            let known = service.ports.map { p in p.name.map { "\($0) (\(p.port))" } ?? String(p.port) }
            b.report(
                .error(
                    "Service \(serviceKey) has no port \(backend.port.quotedForDiagnostic); it has "
                        + (known.isEmpty ? "no ports" : known.joined(separator: ", ")),
                    at: backend.location))
            return nil
        }

        let name = Cluster.name(namespace: namespace, service: backend.name, port: port.port)
        if b.clusters[name] == nil {
            let endpoints = endpoints(of: service, port: port, index: b.index)
            if endpoints.isEmpty {
                b.report(
                    .warning(
                        "Service \(serviceKey) has no endpoints in the repository (no EndpointSlice labelled "
                            + "kubernetes.io/service-name=\(backend.name)); its routes answer 503 until it has some",
                        at: backend.location))
            }
            b.clusters[name] = Cluster(
                name: name,
                service: ServiceRef(namespace: namespace, name: backend.name, port: port.port, portName: port.name),
                endpoints: endpoints)
        }
        return name
    }

    static func endpoints(of service: Service, port: ServicePort, index: ObjectIndex) -> [Endpoint] {
        let key = ObjectIndex.key(service.metadata.namespace, service.metadata.name)
        var found: Set<Endpoint> = []
        if let slices = index.slicesByService[key], !slices.isEmpty {
            for slice in slices {
                // The slice port carrying the Service port's name (an unnamed Service port matches an unnamed slice port).
                guard let slicePort = slice.ports.first(where: { ($0.name ?? "") == (port.name ?? "") }) ?? fallbackPort(slice, port),
                    let number = slicePort.port
                else { continue }
                for endpoint in slice.endpoints {
                    var labels: [String: String] = [:]
                    if let zone = endpoint.zone { labels["zone"] = zone }
                    if let cluster = slice.metadata.labels["multicluster.kubernetes.io/source-cluster"] { labels["cluster"] = cluster }
                    let ready = (endpoint.ready ?? true) && !(endpoint.terminating ?? false)
                    for address in endpoint.addresses {
                        found.insert(Endpoint(address: address, port: number, ready: ready, labels: labels.isEmpty ? nil : labels))
                    }
                }
            }
        } else if let legacy = index.endpoints[key] {
            for subset in legacy.subsets {
                guard let p = subset.ports.first(where: { ($0.name ?? "") == (port.name ?? "") }) ?? subset.ports.first,
                    let number = p.port
                else { continue }
                for a in subset.addresses { found.insert(Endpoint(address: a, port: number, ready: true)) }
                for a in subset.notReadyAddresses { found.insert(Endpoint(address: a, port: number, ready: false)) }
            }
        } else if service.type == "ExternalName", let external = service.externalName {
            let number: Int
            if case .int(let n) = port.targetPort { number = n } else { number = port.port }
            found.insert(Endpoint(address: external, port: number, ready: true))
        }
        return found.sorted()
    }

    /// A single-port Service may be served by a single-port slice whatever the names say.
    static func fallbackPort(_ slice: EndpointSlice, _ port: ServicePort) -> EndpointPort? {
        slice.ports.count == 1 ? slice.ports[0] : nil
    }
}

/// A backend as an Ingress names it; resolved once per compilation.
struct BackendKey: Hashable {
    var namespace: String
    var service: String
    var port: ServicePortReference
}

extension ServicePortReference {
    var quotedForDiagnostic: String {
        switch self {
        case .number(let n): return String(n)
        case .name(let s): return "\"\(s)\""
        }
    }
}
