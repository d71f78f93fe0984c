import Manifests
import RouteModel

/// The data plane side of a transaction. The agent implements it over `DataPlane` (this module must
/// not depend on NIO); tests implement it in memory.
public protocol GatewayTarget: Sendable {
    /// Serves `table` (and the certificates its TLS bindings name, found among `objects`) from now on,
    /// in one atomic swap. Throws when the revision cannot be served; then nothing changed.
    func install(revision: String, table: RouteTable, objects: ManifestSet) async throws
    /// Serves again what was served before the last `install`.
    func restorePrevious() async throws
}

/// What a verification check sees: the revision just made live.
public struct VerificationContext: Sendable {
    public var revision: String
    public var table: RouteTable
    public var objects: ManifestSet
    /// True once a newer commit is waiting. A check that waits (probes over a window, an error-rate
    /// watch) polls it and returns `.superseded`, so a fix is never stuck behind a slow check (Flux
    /// `CancelHealthCheckOnNewRevision`).
    public var isSuperseded: @Sendable () async -> Bool

    public init(
        revision: String, table: RouteTable, objects: ManifestSet, isSuperseded: @escaping @Sendable () async -> Bool = { false }
    ) {
        self.revision = revision
        self.table = table
        self.objects = objects
        self.isSuperseded = isSuperseded
    }
}

public enum VerificationResult: Sendable, Equatable {
    case passed
    case failed(String)
    case superseded
}

/// A check run after the swap; any failure rolls the cluster and the gateway back and marks the commit bad.
public protocol VerificationCheck: Sendable {
    var name: String { get }
    func verify(_ context: VerificationContext) async -> VerificationResult
}

/// The default check: every cluster a route forwards to has at least one endpoint. A revision that
/// routes traffic into nothing (a Service renamed without its EndpointSlice, a typo in a port) would
/// turn working routes into 503s; it is better refused and the previous revision kept.
public struct EndpointsCheck: VerificationCheck {
    public init() {}

    public var name: String { "endpoints" }

    public func verify(_ context: VerificationContext) async -> VerificationResult {
        let withEndpoints = Set(context.table.clusters.filter { !$0.endpoints.isEmpty }.map(\.name))
        var missing: [String] = []
        for host in context.table.virtualHosts {
            for route in host.routes {
                for backend in route.action.forward?.backends ?? [] where !withEndpoints.contains(backend.cluster) {
                    missing.append("\(host.host) \(route.name) → \(backend.cluster)")
                }
            }
        }
        guard !missing.isEmpty else { return .passed }
        let shown = missing.prefix(5).joined(separator: "; ")
        let more = missing.count > 5 ? " (and \(missing.count - 5) more)" : ""
        return .failed("\(missing.count) route backend\(missing.count == 1 ? "" : "s") without endpoints: \(shown)\(more)")
    }
}

/// A check from a closure: how the agent plugs in HTTP probes or an error-rate watch.
public struct ClosureCheck: VerificationCheck {
    public let name: String
    let body: @Sendable (VerificationContext) async -> VerificationResult

    public init(name: String, _ body: @escaping @Sendable (VerificationContext) async -> VerificationResult) {
        self.name = name
        self.body = body
    }

    public func verify(_ context: VerificationContext) async -> VerificationResult { await body(context) }
}
