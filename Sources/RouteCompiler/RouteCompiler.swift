import Manifests
import RouteModel

/// What the compiler needs besides the manifests.
public struct CompileOptions: Sendable {
    /// The commit being compiled (its sha), copied into the table.
    public var revision: String?
    /// Age of each object: a smaller number is older. The agent uses the position, in the branch's
    /// first-parent history, of the commit that first introduced the object, because Git has no
    /// creation timestamps and every replica must resolve conflicts the same way. Objects missing
    /// from the map count as newest; ties are broken by namespace/name.
    public var ages: [ObjectKey: Int]
    /// Serve only the Ingresses of this MseIngressConfig (by name). `nil`: every gateway in the repository.
    public var gateway: String?

    public init(revision: String? = nil, ages: [ObjectKey: Int] = [:], gateway: String? = nil) {
        self.revision = revision
        self.ages = ages
        self.gateway = gateway
    }
}

/// The outcome of one compilation: always a table (possibly empty), and every problem found.
public struct CompileResult: Sendable {
    public var table: RouteTable
    /// Sorted (file, line, column).
    public var diagnostics: [Diagnostic]
    /// Ingresses whose routes are in the table (some of their paths may have been refused).
    public var served: [ObjectKey]
    /// Ingresses left out by class or namespace selection, with the reason.
    public var excluded: [Exclusion]

    public struct Exclusion: Sendable, Equatable {
        public var ingress: ObjectKey
        public var reason: String
    }
}

/// `ManifestSet → (RouteTable, [Diagnostic])`: Kubernetes Ingress v1 and MSE semantics as a pure function.
///
/// Like Contour's DAG builder, compilation is an ordered list of processors over one mutable
/// `Builder`; a broken Ingress adds diagnostics and is left out, it never aborts the build. The
/// last step sorts everything, so the same manifests always give the same bytes.
public enum RouteCompiler {
    public static func compile(_ manifests: ManifestSet, options: CompileOptions = CompileOptions()) -> CompileResult {
        var builder = Builder(manifests: manifests, options: options)
        ClassSelection.run(&builder)
        IngressProcessor.run(&builder)
        TLSProcessor.run(&builder)
        return builder.finish()
    }
}

/// Mutable state shared by the processors of one compilation.
struct Builder {
    let manifests: ManifestSet
    let options: CompileOptions
    let index: ObjectIndex
    var diagnostics: [Diagnostic] = []
    /// Ingresses chosen by class selection, oldest first.
    var selected: [Ingress] = []
    var excluded: [CompileResult.Exclusion] = []
    var served: Set<ObjectKey> = []
    /// Routes by host, in insertion (age) order; sorted at the end.
    var routes: [String: [PendingRoute]] = [:]
    var clusters: [String: Cluster] = [:]
    /// Cluster name (or `nil`: unusable, already reported) per backend reference.
    var resolvedBackends: [BackendKey: String?] = [:]
    var tls: [TLSBinding] = []

    init(manifests: ManifestSet, options: CompileOptions) {
        self.manifests = manifests
        self.options = options
        self.index = ObjectIndex(manifests)
    }

    mutating func report(_ d: Diagnostic) { diagnostics.append(d) }

    /// Oldest first: age, then namespace/name (ingress-nginx and Higress order by creation time the same way).
    /// Sorts indices on precomputed keys: moving whole Ingress values through a sort costs more than the rest.
    func oldestFirst(_ ingresses: [Ingress]) -> [Ingress] {
        let keys = ingresses.map { ($0.key, options.ages[$0.key] ?? .max) }
        let order = ingresses.indices.sorted { i, j in
            let (a, b) = (keys[i], keys[j])
            if a.1 != b.1 { return a.1 < b.1 }
            if a.0.namespace != b.0.namespace { return a.0.namespace < b.0.namespace }
            return a.0.name < b.0.name
        }
        return order.map { ingresses[$0] }
    }

    func finish() -> CompileResult {
        let hosts = routes.keys.sorted { a, b in
            let (ka, kb) = (VirtualHost(host: a, routes: []).kind, VirtualHost(host: b, routes: []).kind)
            return ka != kb ? ka < kb : a < b
        }
        let vhosts = hosts.map { host in
            VirtualHost(host: host, routes: RouteOrdering.sorted(routes[host] ?? []).map(\.route))
        }
        let table = RouteTable(
            revision: options.revision,
            virtualHosts: vhosts,
            clusters: clusters.values.sorted { $0.name < $1.name },
            tls: tls.sorted { ($0.host, $0.secret) < ($1.host, $1.secret) }
        )
        return CompileResult(
            table: table,
            diagnostics: Array(Set(diagnostics)).sorted(),
            served: served.sorted(),
            excluded: excluded.sorted { $0.ingress < $1.ingress }
        )
    }
}

/// A route waiting for the final sort, with what the sort and conflict resolution look at.
struct PendingRoute {
    var route: Route
    /// Position of the owning Ingress in age order, then rule and path index: the tie-breaker.
    var order: (ingress: Int, rule: Int, path: Int)
    /// A `defaultBackend` route: always last in its host.
    var isDefaultBackend: Bool
}

/// Lookups by namespace and name, built once.
struct ObjectIndex {
    var services: [String: Service] = [:]
    var slicesByService: [String: [EndpointSlice]] = [:]
    var endpoints: [String: Endpoints] = [:]
    var secrets: [String: Secret] = [:]

    init(_ set: ManifestSet) {
        for object in set.objects {
            switch object {
            case .service(let s): services[Self.key(s.metadata.namespace, s.metadata.name)] = s
            case .endpointSlice(let s):
                if let svc = s.serviceName {
                    slicesByService[Self.key(s.metadata.namespace, svc), default: []].append(s)
                }
            case .endpoints(let e): endpoints[Self.key(e.metadata.namespace, e.metadata.name)] = e
            case .secret(let s): secrets[Self.key(s.metadata.namespace, s.metadata.name)] = s
            default: break
            }
        }
    }

    static func key(_ namespace: String, _ name: String) -> String { namespace + "/" + name }
}

extension Ingress {
    var key: ObjectKey { ObjectKey(kind: "Ingress", namespace: metadata.namespace, name: metadata.name) }
}
