import Applier
import DataPlane
import Manifests
import NIOConcurrencyHelpers
import RouteModel

/// The gateway side of a transaction, over the embedded data plane.
///
/// It keeps the table and certificates it installed last and the ones before, rather than relying
/// on `SnapshotStore.restorePrevious()`: restoring re-installs the previous revision exactly (its
/// certificates included), and restoring when nothing was served before installs an empty table,
/// which is what was served.
final class DataPlaneGateway: GatewayTarget, Sendable {
    struct Installed: Sendable {
        var table: RouteTable
        var certificates: [String: TLSCertificatePair]
    }

    let dataPlane: DataPlane
    private let state = NIOLockedValueBox<(current: Installed?, previous: Installed?, report: InstallReport?)>((nil, nil, nil))

    init(dataPlane: DataPlane) { self.dataPlane = dataPlane }

    /// The table being served, nil before the first install.
    var currentTable: RouteTable? { state.withLockedValue { $0.current?.table } }
    /// The report of the last install or restore (build and swap times, TLS warnings).
    var lastReport: InstallReport? { state.withLockedValue { $0.report } }

    func install(revision: String, table: RouteTable, objects: ManifestSet) async throws {
        let installed = Installed(table: table, certificates: GatewayAgent.certificates(for: table, in: objects))
        let report = await dataPlane.install(installed.table, certificates: installed.certificates)
        state.withLockedValue { $0 = (installed, $0.current, report) }
    }

    func restorePrevious() async throws {
        let previous = state.withLockedValue { $0.previous } ?? Installed(table: RouteTable(), certificates: [:])
        let report = await dataPlane.install(previous.table, certificates: previous.certificates)
        state.withLockedValue { $0 = (previous, nil, report) }
    }
}
