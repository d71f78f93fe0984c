import Foundation
import NIOCore

/// Everything the proxy keeps per event loop: upstream pools, round-robin positions, counters and
/// the access-log buffer. Only its own loop touches it, so the request path takes no lock; the
/// admin API gathers counters by submitting a task to each loop.
final class LoopState {
    let eventLoop: EventLoop
    let pool: UpstreamPool
    let metrics = LoopMetrics()
    let accessLog: AccessLogBuffer
    private var roundRobin: [String: Int] = [:]
    private var random: SplitMix64

    init(eventLoop: EventLoop, configuration: DataPlaneConfiguration, sink: AccessLogSink) {
        self.eventLoop = eventLoop
        self.pool = UpstreamPool(eventLoop: eventLoop, configuration: configuration)
        self.accessLog = AccessLogBuffer(sink: sink, format: configuration.accessLog)
        self.random = SplitMix64(seed: UInt64.random(in: .min ... .max))
    }

    /// The next position of the cluster's round robin.
    func nextIndex(_ cluster: String) -> Int {
        let n = roundRobin[cluster, default: Int.random(in: 0..<1024, using: &random)]
        roundRobin[cluster] = n &+ 1
        return n & Int.max
    }

    /// The cluster's next endpoint in round robin, passing over those `tried` says were tried already
    /// (a retry goes to another endpoint when there is one).
    func nextEndpoint(of cluster: ClusterTarget, skipping tried: (EndpointKey) -> Bool) -> EndpointKey {
        let keys = cluster.keys
        var index = nextIndex(cluster.name)
        var key = keys[index % keys.count]
        for _ in 0..<keys.count where tried(key) {
            index += 1
            key = keys[index % keys.count]
        }
        return key
    }

    func randomBelow(_ bound: Int) -> Int { Int.random(in: 0..<bound, using: &random) }

    /// 16 hex digits: unique enough for tracing one request through logs.
    func requestID() -> String {
        let v = random.next()
        // Written digit by digit: one allocation, where String(radix:) plus padding took two.
        return String(unsafeUninitializedCapacity: 16) { out in
            for i in 0..<16 { out[i] = Self.hexDigits[Int((v >> (60 - 4 * UInt64(i))) & 0xF)] }
            return 16
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
}

/// Per-loop counters, merged on scrape.
final class LoopMetrics {
    struct RequestKey: Hashable {
        var route: String
        var statusClass: Int
    }

    static let latencyBuckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    var requests: [RequestKey: Int] = [:]
    var latencyCounts = [Int](repeating: 0, count: latencyBuckets.count + 1)
    var latencySum = 0.0
    var activeConnections = 0
    var inFlight = 0
    var acceptedConnections = 0
    var upstreamConnectFailures = 0

    func record(route: String, status: Int) {
        requests[RequestKey(route: route, statusClass: status / 100), default: 0] += 1
    }

    func observeUpstream(seconds: Double) {
        var i = 0
        while i < Self.latencyBuckets.count && seconds > Self.latencyBuckets[i] { i += 1 }
        latencyCounts[i] += 1
        latencySum += seconds
    }

    var snapshot: MetricsSnapshot {
        MetricsSnapshot(
            requests: requests.map { (route: $0.key.route, statusClass: $0.key.statusClass, count: $0.value) },
            latencyCounts: latencyCounts, latencySum: latencySum, activeConnections: activeConnections, inFlight: inFlight,
            acceptedConnections: acceptedConnections, upstreamConnectFailures: upstreamConnectFailures)
    }
}

/// Counters of one loop (or all, merged), as plain values.
public struct MetricsSnapshot: Sendable {
    public var latencyBuckets: [Double] { LoopMetrics.latencyBuckets }
    public var requests: [(route: String, statusClass: Int, count: Int)]
    public var latencyCounts: [Int]
    public var latencySum: Double
    public var activeConnections: Int
    /// Requests received and not yet answered.
    public var inFlight: Int
    public var acceptedConnections: Int
    public var upstreamConnectFailures: Int
    /// Pooled upstream connections waiting for a request.
    public var idleUpstreamConnections = 0

    static let empty = MetricsSnapshot(
        requests: [], latencyCounts: [Int](repeating: 0, count: LoopMetrics.latencyBuckets.count + 1), latencySum: 0,
        activeConnections: 0, inFlight: 0, acceptedConnections: 0, upstreamConnectFailures: 0)

    func merged(with other: MetricsSnapshot) -> MetricsSnapshot {
        var out = self
        out.requests += other.requests
        out.latencyCounts = zip(latencyCounts, other.latencyCounts).map { $0 + $1 }
        out.latencySum += other.latencySum
        out.activeConnections += other.activeConnections
        out.inFlight += other.inFlight
        out.acceptedConnections += other.acceptedConnections
        out.upstreamConnectFailures += other.upstreamConnectFailures
        out.idleUpstreamConnections += other.idleUpstreamConnections
        return out
    }
}

/// A small fast generator for round-robin starts, weights and request ids (SplitMix64).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Seconds from `start` to now, for latencies and durations.
func secondsSince(_ start: NIODeadline) -> Double {
    Double((NIODeadline.now() - start).nanoseconds) / 1e9
}
