import Foundation
import NIOConcurrencyHelpers

/// What started a sync, recorded in the ledger and the commit's note.
public struct SyncTrigger: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        /// The first sync after the agent started.
        case start
        /// A `--poll` tick.
        case poll
        /// A verified webhook delivery that names the followed branch.
        case webhook
        /// `POST /sync` on the admin API.
        case sync
    }

    public var kind: Kind
    /// For webhooks: `github`, `gitlab`, `gitea`, `generic`.
    public var provider: String?
    /// For webhooks: the provider's delivery id (`X-GitHub-Delivery`, `X-Gitlab-Event-UUID`, `X-Gitea-Delivery`), so a
    /// ledger line can be matched with the provider's delivery log.
    public var delivery: String?

    public init(_ kind: Kind, provider: String? = nil, delivery: String? = nil) {
        self.kind = kind
        self.provider = provider
        self.delivery = delivery
    }

    public static let start = SyncTrigger(.start)
    public static let poll = SyncTrigger(.poll)
    public static let sync = SyncTrigger(.sync)

    /// `webhook (github, delivery 72d3…)`, `poll`.
    public var description: String {
        var parts: [String] = []
        if let provider { parts.append(provider) }
        if let delivery { parts.append("delivery \(delivery)") }
        return parts.isEmpty ? kind.rawValue : "\(kind.rawValue) (\(parts.joined(separator: ", ")))"
    }
}

/// Coalesces sync requests: however many arrive while a sync runs, one more sync follows it. A burst of N
/// webhooks therefore costs at most two fetches (the one running and the one after), never N.
///
/// The pending trigger is kept beside a one-slot signal stream so the ledger can say what caused the sync. When
/// requests merge, an explicit one (webhook, `POST /sync`, start) wins over a poll tick, since that is what the
/// operator will look for.
final class TriggerMailbox: Sendable {
    let signals: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation
    private let pending = NIOLockedValueBox<SyncTrigger?>(nil)

    init() {
        (signals, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func post(_ trigger: SyncTrigger) {
        pending.withLockedValue { current in
            if current == nil || trigger.kind != .poll { current = trigger }
        }
        continuation.yield()
    }

    /// The merged trigger, or nil when a previous iteration already consumed it (a stale signal).
    func take() -> SyncTrigger? {
        pending.withLockedValue { current in
            defer { current = nil }
            return current
        }
    }

    func finish() { continuation.finish() }
}

/// Poll spacing with jitter, so replicas started together (a rollout) do not fetch in lockstep.
public enum PollSchedule {
    /// `seconds` ± `jitter` (a fraction: 0.1 = ±10 %), uniformly.
    public static func delay(seconds: Double, jitter: Double = 0.1) -> Double {
        var generator = SystemRandomNumberGenerator()
        return delay(seconds: seconds, jitter: jitter, using: &generator)
    }

    public static func delay<G: RandomNumberGenerator>(seconds: Double, jitter: Double, using generator: inout G) -> Double {
        guard jitter > 0, seconds > 0 else { return max(seconds, 0) }
        return seconds * Double.random(in: (1 - jitter)...(1 + jitter), using: &generator)
    }
}
