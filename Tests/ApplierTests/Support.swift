import Applier
import Cluster
import Foundation
import Manifests
import Planner
import RouteModel
import Testing

/// A simulated crash: thrown from the journal hook, it stops the transaction with no rollback.
struct CrashForTest: Error {}

struct InjectedFailure: Error, CustomStringConvertible {
    var description: String { "injected failure" }
}

/// A lock-protected value for test doubles.
final class Box<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    var get: Value { lock.withLock { value } }
    func set(_ body: (inout Value) -> Void) { lock.withLock { body(&value) } }
}

/// The embedded store, failing the `failAt`-th mutation (apply or delete), once.
final class FaultyCluster: ClusterTarget, @unchecked Sendable {
    let store: EmbeddedStore
    let failAt: Int
    let mutations = Box(0)

    init(_ store: EmbeddedStore, failAt: Int) {
        self.store = store
        self.failAt = failAt
    }

    func mutate(_ body: () throws -> Void) throws {
        var n = 0
        mutations.set {
            $0 += 1
            n = $0
        }
        if n == failAt { throw InjectedFailure() }
        try body()
    }

    func list() throws -> [LiveObject] { try store.list() }
    func get(_ ref: ObjectRef) throws -> LiveObject? { try store.get(ref) }
    func apply(_ object: LiveObject) throws { try mutate { try store.apply(object) } }
    func delete(_ ref: ObjectRef) throws { try mutate { try store.delete(ref) } }
    func metadata() throws -> ClusterMetadata { try store.metadata() }
    func writeMetadata(_ metadata: ClusterMetadata) throws { try store.writeMetadata(metadata) }
}

/// An in-memory gateway keeping current and previous, like the data plane's snapshot store.
final class MemoryGateway: GatewayTarget, @unchecked Sendable {
    let state = Box<(current: String?, previous: String?, installs: Int)>((nil, nil, 0))
    let failInstall: Bool

    init(current: String? = nil, failInstall: Bool = false) {
        self.failInstall = failInstall
        state.set { $0.current = current }
    }

    var current: String? { state.get.current }

    func install(revision: String, table: RouteTable, objects: ManifestSet) async throws {
        if failInstall { throw InjectedFailure() }
        state.set { $0 = (revision, $0.current, $0.installs + 1) }
    }

    func restorePrevious() async throws {
        state.set { $0 = ($0.previous, nil, $0.installs) }
    }
}

/// Revisions of a small routing repository. B against A touches every wave: a namespace and an
/// IngressClass are created, backends created, updated and pruned, the Ingress updated.
enum Fixture {
    static let a = """
        apiVersion: v1
        kind: Namespace
        metadata: {name: shop}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: shop}
        spec: {ports: [{port: 80}]}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
        addressType: IPv4
        endpoints: [{addresses: [10.0.0.1]}]
        ports: [{port: 8080}]
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: old, namespace: shop}
        type: Opaque
        data: {k: dmFsdWU=}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: shop, namespace: shop}
        spec:
          rules:
          - host: shop.example.com
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}
        """

    static let b = """
        apiVersion: v1
        kind: Namespace
        metadata: {name: shop}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: api}
        ---
        apiVersion: networking.k8s.io/v1
        kind: IngressClass
        metadata: {name: mse}
        spec: {controller: mse.alibabacloud.com/ingress}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: shop}
        spec: {ports: [{port: 80}]}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: api, namespace: shop}
        spec: {ports: [{port: 80}]}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
        addressType: IPv4
        endpoints: [{addresses: [10.0.0.2]}]
        ports: [{port: 8080}]
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: shop, namespace: shop}
        spec:
          ingressClassName: mse
          rules:
          - host: shop.example.com
            http: {paths: [{path: /api, pathType: Prefix, backend: {service: {name: api, port: {number: 80}}}}]}
        """

    /// C: B with the API fixed (any newer commit).
    static let c = b.replacingOccurrences(of: "10.0.0.2", with: "10.0.0.3")

    static func manifests(_ yaml: String) -> ManifestSet {
        let (set, diagnostics) = ManifestLoader.load([ManifestFile(path: "m.yaml", bytes: Array(yaml.utf8))])
        #expect(!diagnostics.hasErrors, "\(diagnostics)")
        return set
    }

    /// A table whose only route forwards to `cluster`, with or without endpoints.
    static func table(revision: String, endpoints: Bool) -> RouteTable {
        let source = RouteSource(object: "Ingress/shop/shop", location: SourceLocation(file: "m.yaml", line: 1, column: 1))
        let route = Route(
            name: "shop/shop#0.0", match: RouteMatch(path: PathMatch(.prefix, "/")), action: .forward(to: "shop/web:80"),
            source: source)
        let cluster = Cluster(
            name: "shop/web:80", service: ServiceRef(namespace: "shop", name: "web", port: 80),
            endpoints: endpoints ? [Endpoint(address: "10.0.0.1", port: 8080)] : [])
        return RouteTable(revision: revision, virtualHosts: [VirtualHost(host: "shop.example.com", routes: [route])], clusters: [cluster])
    }

    static func desired(_ yaml: String, revision: String, endpoints: Bool = true) -> PlanInput {
        PlanInput(revision: revision, manifests: manifests(yaml), table: table(revision: revision, endpoints: endpoints))
    }
}

/// A state directory with an embedded store and a journal, and ways to look at it byte for byte.
struct StateDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "gitway-applier-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    var clusterDirectory: String { path + "/cluster" }
    var journalDirectory: String { path + "/journal" }
    var journalPath: String { journalDirectory + "/transaction.jsonl" }

    func store() throws -> EmbeddedStore { try EmbeddedStore(directory: clusterDirectory) }

    /// The inventory file's bytes (empty when it was never written).
    func inventory() throws -> Data {
        (try? Data(contentsOf: URL(fileURLWithPath: clusterDirectory + "/inventory.json"))) ?? Data()
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// Applies `desired` over whatever the store holds and returns the outcome.
    func apply(
        _ desired: PlanInput, cluster: (any ClusterTarget)? = nil, gateway: any GatewayTarget = MemoryGateway(),
        checks: [any VerificationCheck] = [EndpointsCheck()], allowEmpty: Bool = false,
        isSuperseded: @escaping @Sendable () async -> Bool = { false },
        hook: (@Sendable (JournalRecord) throws -> Void)? = nil
    ) async throws -> ApplyOutcome {
        let store = try store()
        let target = cluster ?? store
        let applier = Applier(
            cluster: target, gateway: gateway, journalDirectory: journalDirectory, checks: checks, testHookAfterJournalRecord: hook)
        let live = try PlanInput(live: try target.list(), revision: try target.metadata().appliedRevision ?? "", table: RouteTable())
        let plan = Planner.plan(live: live, desired: desired)
        return try await applier.apply(ApplyRequest(plan: plan, desired: desired, allowEmpty: allowEmpty, isSuperseded: isSuperseded))
    }
}
