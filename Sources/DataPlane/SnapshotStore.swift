import NIOConcurrencyHelpers

/// Holds the snapshot being served and the one before it (for rollback).
///
/// One lock-protected reference swap installs a revision; a request reads `current` once, when its
/// head arrives, and keeps that snapshot to its end, so a swap never mixes two revisions.
public final class SnapshotStore: Sendable {
    private let state = NIOLockedValueBox<(current: RoutingSnapshot?, previous: RoutingSnapshot?)>((nil, nil))

    public init() {}

    public var current: RoutingSnapshot? { state.withLockedValue { $0.current } }
    public var previous: RoutingSnapshot? { state.withLockedValue { $0.previous } }

    /// Installs `snapshot`; returns the one it replaced.
    @discardableResult
    public func install(_ snapshot: RoutingSnapshot) -> RoutingSnapshot? {
        state.withLockedValue { s in
            let old = s.current
            s = (snapshot, old ?? s.previous)
            return old
        }
    }

    /// Puts the previous snapshot back (a failed verification); returns whether there was one.
    @discardableResult
    public func restorePrevious() -> Bool {
        state.withLockedValue { s in
            guard let previous = s.previous else { return false }
            s = (previous, nil)
            return true
        }
    }
}
