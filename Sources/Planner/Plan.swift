import Foundation
import RouteModel

/// The difference between what is live and what a revision wants, for objects and for routes.
///
/// Built like gitops-engine's `(target, live)` pairs: an object only in `desired` is created, one only in
/// `live` is pruned, one in both is updated when it differs. Changes are listed in the order a
/// transaction would apply them (`ObjectChange.Wave`): creates and updates wave by wave, then prunes in
/// reverse wave order, so nothing is ever applied before what it refers to, or removed while still used.
///
/// A plan is a value of plain data (no object bodies): it can be rendered, stored and compared, and
/// it never holds secret material. For `gitway plan`, live is the base revision and desired the head.
public struct Plan: Sendable, Equatable, Codable {
    /// The revision treated as live (`gitway plan --base`).
    public var base: String
    /// The revision treated as desired (`--head`).
    public var head: String
    /// Objects to create, update and prune, in apply order. Unchanged objects are only counted.
    public var objects: [ObjectChange]
    public var unchangedObjects: Int
    public var routes: RouteDiff
    /// Live held objects and none of them survives: the desired revision removes everything (a wrong
    /// `--path`, an emptied repository). An agent applies such a plan only with `--allow-empty`.
    public var prunesEverything: Bool
    /// What is known to be wrong with the desired revision (diagnostics, failing route tests).
    public var checks: Checks

    public init(
        base: String, head: String, objects: [ObjectChange], unchangedObjects: Int, routes: RouteDiff,
        prunesEverything: Bool, checks: Checks = Checks()
    ) {
        self.base = base
        self.head = head
        self.objects = objects
        self.unchangedObjects = unchangedObjects
        self.routes = routes
        self.prunesEverything = prunesEverything
        self.checks = checks
    }

    /// Anything to apply: an object or a route differs.
    public var hasChanges: Bool { !objects.isEmpty || routes.hasChanges }

    public func count(_ action: ObjectChange.Action) -> Int { objects.filter { $0.action == action }.count }

    /// The desired revision's problems, carried so that every rendering of the plan shows them.
    public struct Checks: Sendable, Equatable, Codable {
        /// Load and compile diagnostics of the desired revision, sorted.
        public var diagnostics: [Diagnostic]
        /// Route tests run.
        public var routeTests: Int
        /// Failing route tests, as located diagnostics.
        public var routeTestFailures: [Diagnostic]

        public init(diagnostics: [Diagnostic] = [], routeTests: Int = 0, routeTestFailures: [Diagnostic] = []) {
            self.diagnostics = diagnostics
            self.routeTests = routeTests
            self.routeTestFailures = routeTestFailures
        }

        public var errorCount: Int { diagnostics.errors.count }
        public var warningCount: Int { diagnostics.filter { $0.severity == .warning }.count }
    }
}

/// An object's identity: API group, kind, namespace, name (a Knative `Service` is not a v1 `Service`).
public struct ObjectRef: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public var group: String
    public var kind: String
    /// Empty for cluster-scoped kinds.
    public var namespace: String
    public var name: String

    public init(group: String, kind: String, namespace: String, name: String) {
        self.group = group
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }

    /// `Kind/namespace/name` (`Kind.group/…` outside the groups Gitway reads, so two kinds of the same
    /// name stay apart).
    public var description: String {
        let k = group.isEmpty || ObjectRef.knownGroups.contains(group) ? kind : "\(kind).\(group)"
        return namespace.isEmpty ? "\(k)/\(name)" : "\(k)/\(namespace)/\(name)"
    }

    static let knownGroups: Set<String> = [
        "networking.k8s.io", "discovery.k8s.io", "mse.alibabacloud.com",
    ]

    public static func < (a: ObjectRef, b: ObjectRef) -> Bool {
        (a.kind, a.namespace, a.name, a.group) < (b.kind, b.namespace, b.name, b.group)
    }
}

/// One object to create, update or prune.
public struct ObjectChange: Sendable, Equatable, Codable {
    public enum Action: String, Sendable, Codable, CaseIterable {
        case create, update, prune
    }

    /// Apply order: what others refer to first (namespaces, then gateway classes and configuration,
    /// then backends and certificates, then the Ingresses that use them); prunes run in reverse.
    public enum Wave: Int, Sendable, Codable, Comparable, CaseIterable {
        case namespaces = 0
        case classes = 1
        case backends = 2
        case ingresses = 3

        public static func < (a: Wave, b: Wave) -> Bool { a.rawValue < b.rawValue }

        public var title: String {
            switch self {
            case .namespaces: return "Namespaces"
            case .classes: return "IngressClasses and MseIngressConfigs"
            case .backends: return "Services, EndpointSlices, Endpoints, Secrets and other objects"
            case .ingresses: return "Ingresses"
            }
        }

        public static func of(kind: String) -> Wave {
            switch kind {
            case "Namespace": return .namespaces
            case "IngressClass", "MseIngressConfig": return .classes
            case "Ingress": return .ingresses
            default: return .backends
            }
        }
    }

    public var action: Action
    public var object: ObjectRef
    public var wave: Wave
    /// For updates: what changed (paths only, never values).
    public var fields: [FieldChange]
    /// Where the object is written: in the desired revision, or in the live one for a prune.
    public var location: SourceLocation?

    public init(action: Action, object: ObjectRef, wave: Wave, fields: [FieldChange] = [], location: SourceLocation?) {
        self.action = action
        self.object = object
        self.wave = wave
        self.fields = fields
        self.location = location
    }

    /// `spec.rules changed, annotation a added, data changed (values hidden)`.
    public var summary: String { fields.map(\.summary).joined(separator: ", ") }
}

/// A changed field of an updated object: where, and how, but never its value. Values of Secrets must
/// not leak, and for other objects the route diff shows the effect better than raw values would.
public struct FieldChange: Sendable, Equatable, Codable {
    public enum Change: String, Sendable, Codable {
        case added, removed, changed
    }

    /// `spec.rules`, `metadata.annotations["nginx.ingress.kubernetes.io/canary-weight"]`, `data`.
    public var path: String
    public var change: Change
    /// Set for fields whose values are secret (`data` of a Secret).
    public var valuesHidden: Bool?

    public init(path: String, change: Change, valuesHidden: Bool? = nil) {
        self.path = path
        self.change = change
        self.valuesHidden = valuesHidden
    }

    public var summary: String {
        "\(path) \(change.rawValue)" + (valuesHidden == true ? " (values hidden)" : "")
    }
}

// MARK: - Routes

/// The route tables of live and desired, compared by virtual host and route match.
public struct RouteDiff: Sendable, Equatable, Codable {
    /// Hosts with at least one route added, removed or changed; exact hosts, then wildcards, then `*`.
    public var hosts: [HostDiff]
    public var tls: [TLSChange]
    public var clusters: [ClusterChange]
    public var unchangedRoutes: Int

    public init(hosts: [HostDiff] = [], tls: [TLSChange] = [], clusters: [ClusterChange] = [], unchangedRoutes: Int = 0) {
        self.hosts = hosts
        self.tls = tls
        self.clusters = clusters
        self.unchangedRoutes = unchangedRoutes
    }

    /// Hosts are listed only when something in them changed, reordering included.
    public var hasChanges: Bool { !hosts.isEmpty || !tls.isEmpty || !clusters.isEmpty }

    public func count(_ change: RouteChange.Change) -> Int {
        hosts.reduce(0) { $0 + $1.routes.filter { $0.change == change }.count }
    }
}

public struct HostDiff: Sendable, Equatable, Codable {
    public enum Change: String, Sendable, Codable {
        /// The host is new: every route of it is added.
        case added
        /// The host is gone.
        case removed
        /// Some routes differ.
        case changed
    }

    public var host: String
    public var change: Change
    /// Desired order for added and changed routes, then removed ones in live order.
    public var routes: [RouteChange]
    /// Set (true) when routes present on both sides are tried in another order: the first match wins,
    /// so a new order can change which route serves a request even if no route changed.
    public var orderChanged: Bool?

    public init(host: String, change: Change, routes: [RouteChange], orderChanged: Bool? = nil) {
        self.host = host
        self.change = change
        self.routes = routes
        self.orderChanged = orderChanged
    }
}

/// One route, identified within its host by its match (path type, path, header, query and method
/// predicates): the route a request hits is decided by the match alone, so two routes with the same
/// match are the same route whatever Ingress or rule index they come from.
public struct RouteChange: Sendable, Equatable, Codable {
    public enum Change: String, Sendable, Codable {
        case added, removed, changed
    }

    public enum Aspect: String, Sendable, Codable {
        /// Forwarded to other clusters.
        case backends
        /// Same clusters, other weights.
        case weights
        /// Another kind of action (forward, redirect, direct response).
        case action
        case redirect
        case response
        /// Anything else the route carries (timeouts, retries, CORS, … as the model grows).
        case policies
    }

    public var change: Change
    public var match: RouteMatch
    public var before: RouteAction?
    public var after: RouteAction?
    /// For `changed`: what differs.
    public var aspects: [Aspect]
    /// Policy fields of the route that differ (or that the route has, when added or removed).
    public var policies: [String]
    /// In the desired revision, or in the live one for a removed route.
    public var source: SourceLocation

    public init(
        change: Change, match: RouteMatch, before: RouteAction?, after: RouteAction?, aspects: [Aspect] = [],
        policies: [String] = [], source: SourceLocation
    ) {
        self.change = change
        self.match = match
        self.before = before
        self.after = after
        self.aspects = aspects
        self.policies = policies
        self.source = source
    }
}

public struct TLSChange: Sendable, Equatable, Codable {
    public enum Change: String, Sendable, Codable {
        case added, removed, changed
    }

    public var host: String
    public var change: Change
    /// `namespace/name` of the certificate Secret (never its content).
    public var before: String?
    public var after: String?

    public init(host: String, change: Change, before: String?, after: String?) {
        self.host = host
        self.change = change
        self.before = before
        self.after = after
    }
}

public struct ClusterChange: Sendable, Equatable, Codable {
    public enum Change: String, Sendable, Codable {
        case added, removed, changed
    }

    public var name: String
    public var change: Change
    public var endpointsBefore: Int
    public var endpointsAfter: Int
    /// `address:port`, sorted.
    public var endpointsAdded: [String]
    public var endpointsRemoved: [String]
    /// Other differences: `protocol http → https`, `readiness`.
    public var notes: [String]

    public init(
        name: String, change: Change, endpointsBefore: Int, endpointsAfter: Int, endpointsAdded: [String] = [],
        endpointsRemoved: [String] = [], notes: [String] = []
    ) {
        self.name = name
        self.change = change
        self.endpointsBefore = endpointsBefore
        self.endpointsAfter = endpointsAfter
        self.endpointsAdded = endpointsAdded
        self.endpointsRemoved = endpointsRemoved
        self.notes = notes
    }
}
