import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import RouteModel

/// The embedded gateway: listeners, the snapshot being served, and per-loop upstream pools.
public final class DataPlane: Sendable {
    public let store = SnapshotStore()
    /// The TLS certificates of the revisions the store holds.
    let tls = TLSCertificateStore()
    public let configuration: DataPlaneConfiguration
    let group: EventLoopGroup
    let logger: Logger
    /// Per-loop state, created up front for every loop of the group; each is touched only on its loop.
    let loops: [ObjectIdentifier: NIOLoopBound<LoopState>]
    private let channels = NIOLockedValueBoxWrapper<[Channel]>([])

    public init(
        group: EventLoopGroup, configuration: DataPlaneConfiguration = DataPlaneConfiguration(), logger: Logger,
        accessLog: AccessLogSink = .standardOutput
    ) {
        self.group = group
        self.configuration = configuration
        self.logger = logger
        var loops: [ObjectIdentifier: NIOLoopBound<LoopState>] = [:]
        for loop in group.makeIterator() {
            // Created on the loop that owns it.
            let state = try! loop.submit {
                NIOLoopBound(LoopState(eventLoop: loop, configuration: configuration, sink: accessLog), eventLoop: loop)
            }
            .wait()
            loops[ObjectIdentifier(loop)] = state
        }
        self.loops = loops
        // Access-log batches are written at least every 250 ms.
        for (_, state) in loops {
            let loop = state.eventLoop
            loop.scheduleRepeatedTask(initialDelay: .milliseconds(250), delay: .milliseconds(250)) { _ in
                state.value.accessLog.flush()
            }
        }
    }

    func state(for loop: EventLoop) -> LoopState {
        loops[ObjectIdentifier(loop)]!.value
    }

    /// Binds a plain listener; returns the bound address (port 0 picks a free port).
    ///
    /// HTTP/1.1, and HTTP/2 with prior knowledge (h2c): a connection whose first bytes are the HTTP/2
    /// preface is served as HTTP/2 (`HTTPVersionDetector`).
    public func bindHTTP(host: String, port: Int) async throws -> SocketAddress {
        let plane = self
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(HTTPVersionDetector(plane: plane, scheme: "http"))
                }
            }
            .bind(host: host, port: port)
            .get()
        registerListener(channel)
        return channel.localAddress!
    }

    func registerListener(_ channel: Channel) {
        channels.withLockedValue { $0.append(channel) }
    }

    /// Builds and installs a snapshot of `table`; returns how long the swap took.
    ///
    /// The build happens before the swap, off the request path; the swap itself is one reference
    /// store. Idle upstream connections to endpoints the new table no longer has are closed after it.
    ///
    /// `certificates` holds the PEM of the Secrets that `table.tls` names, by `namespace/name`; TLS
    /// handshakes choose among them by SNI from the revision being served. A Secret that is missing or
    /// does not parse leaves its hosts without a certificate of their own, with a warning in the report.
    @discardableResult
    public func install(_ table: RouteTable, certificates: [String: TLSCertificatePair] = [:]) async -> InstallReport {
        let start = NIODeadline.now()
        let snapshot = RoutingSnapshot(table: table)
        let (certificateIndex, warnings) = tls.prepare(table.tls, certificates: certificates)
        // New backends get a pooled connection on every loop before the swap, so the first requests of
        // the revision do not pay for connection setup. Bounded: an endpoint that does not answer
        // within the connect timeout (at most 1 s here) is left to the requests.
        let previous = Set(store.current.map { $0.clusters.values.flatMap { $0.usable.map(EndpointKey.init) } } ?? [])
        let fresh = Array(Set(table.clusters.flatMap { $0.endpoints.map(EndpointKey.init) }).subtracting(previous).prefix(1024))
        if !fresh.isEmpty {
            await withTaskGroup(of: Void.self) { group in
                for (_, state) in loops {
                    let limit = min(configuration.connectTimeout, .seconds(1))
                    group.addTask {
                        try? await state.eventLoop.flatSubmit {
                            let done = state.eventLoop.makePromise(of: Void.self)
                            state.value.pool.prewarm(fresh).cascade(to: done)
                            state.eventLoop.scheduleTask(in: limit) { done.succeed(()) }
                            return done.futureResult
                        }.get()
                    }
                }
            }
        }
        let built = NIODeadline.now()
        tls.register(certificateIndex, for: snapshot)
        store.install(snapshot)
        let swapped = NIODeadline.now()
        tls.prune(keeping: [store.current, store.previous])
        let live = Set(table.clusters.flatMap { $0.endpoints.map(EndpointKey.init) })
        for (_, state) in loops {
            state.eventLoop.execute { state.value.pool.drain(keeping: live) }
        }
        return InstallReport(
            buildSeconds: Double((built - start).nanoseconds) / 1e9, swapSeconds: Double((swapped - built).nanoseconds) / 1e9,
            warnings: warnings)
    }

    /// Counters of every loop, merged.
    public func metrics() async -> MetricsSnapshot {
        var total = MetricsSnapshot.empty
        for (_, state) in loops {
            let sample = try? await state.eventLoop.submit {
                var s = state.value.metrics.snapshot
                s.idleUpstreamConnections = state.value.pool.idleCount
                return s
            }.get()
            if let s = sample {
                total = total.merged(with: s)
            }
        }
        return total
    }

    /// Stops accepting, lets in-flight exchanges finish until `deadline`, then closes pools.
    public func shutdown(gracePeriod: TimeAmount = .seconds(10)) async {
        let listeners = channels.withLockedValue { c in
            defer { c = [] }
            return c
        }
        for channel in listeners { try? await channel.close() }
        let deadline = NIODeadline.now() + gracePeriod
        while NIODeadline.now() < deadline {
            let active = await metrics().activeConnections
            if active == 0 { break }
            try? await Task.sleep(nanoseconds: 50_000_000)
        }
        for (_, state) in loops {
            try? await state.eventLoop.submit {
                state.value.pool.closeAll()
                state.value.accessLog.flush()
            }.get()
        }
    }
}

public struct InstallReport: Sendable {
    /// Building the snapshot's indexes (off the request path).
    public var buildSeconds: Double
    /// The reference swap itself.
    public var swapSeconds: Double
    /// Problems that did not stop the install (a TLS Secret missing or unusable).
    public var warnings: [String] = []
}

/// A lock-protected value (NIO's box, re-exported under a local name to keep imports in one place).
final class NIOLockedValueBoxWrapper<Value: Sendable>: Sendable {
    private let box: NIOLockedValueBox<Value>
    init(_ value: Value) { box = NIOLockedValueBox(value) }
    func withLockedValue<T>(_ body: (inout Value) throws -> T) rethrows -> T { try box.withLockedValue(body) }
}
