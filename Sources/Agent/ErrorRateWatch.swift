import Applier
import DataPlane
import Foundation
import RouteModel

/// How the error-rate watch judges a revision (`--verify-window`, `--verify-max-error-ratio`,
/// `--verify-min-requests`).
public struct ErrorRateWatchSettings: Sendable, Equatable {
    /// How long after the swap the changed routes are watched.
    public var windowSeconds: Double
    /// The largest acceptable share of 5xx answers on the changed routes.
    public var maximumRatio: Double
    /// Fewer requests than this in the window prove nothing either way: the revision passes.
    public var minimumRequests: Int

    public init(windowSeconds: Double, maximumRatio: Double = 0.1, minimumRequests: Int = 20) {
        self.windowSeconds = windowSeconds
        self.maximumRatio = maximumRatio
        self.minimumRequests = minimumRequests
    }
}

/// Verification by live traffic: for a window after the swap, the routes the revision added or
/// changed are watched in the data plane's counters; when too large a share of their answers are
/// 5xx (the gateway's own 502/503/504 included), the revision is rolled back and marked bad. Routes
/// the revision left alone are not judged: their errors are not this commit's doing.
struct ErrorRateWatch: VerificationCheck {
    let plane: DataPlane
    let settings: ErrorRateWatchSettings

    var name: String { "error-rate" }

    func verify(_ context: VerificationContext) async -> VerificationResult {
        let changed = Self.changedRoutes(from: plane.store.previous?.table, to: context.table)
        guard !changed.isEmpty else { return .passed }
        let before = await counts(changed)
        let deadline = ContinuousClock.now + .milliseconds(Int64(settings.windowSeconds * 1000))
        while ContinuousClock.now < deadline {
            // A newer commit does not wait for this one's window.
            if await context.isSuperseded() { return .superseded }
            try? await Task.sleep(for: min(.milliseconds(100), deadline - ContinuousClock.now))
        }
        let after = await counts(changed)
        let total = after.total - before.total
        let errors = after.errors - before.errors
        guard total >= settings.minimumRequests, total > 0 else { return .passed }
        let ratio = Double(errors) / Double(total)
        guard ratio > settings.maximumRatio else { return .passed }
        return .failed(
            String(
                format: "%d of %d requests (%.0f %%) on the %d changed route(s) answered 5xx within %gs (limit %.0f %%)", errors, total,
                ratio * 100, changed.count, settings.windowSeconds, settings.maximumRatio * 100))
    }

    /// Names of the routes of `new` that `old` does not have, or has with another definition.
    static func changedRoutes(from old: RouteTable?, to new: RouteTable) -> Set<String> {
        var previous: [String: Route] = [:]
        for host in old?.virtualHosts ?? [] { for route in host.routes { previous[route.name] = route } }
        var changed: Set<String> = []
        for host in new.virtualHosts {
            for route in host.routes where previous[route.name] != route { changed.insert(route.name) }
        }
        return changed
    }

    private func counts(_ routes: Set<String>) async -> (total: Int, errors: Int) {
        var total = 0
        var errors = 0
        for entry in await plane.metrics().requests where routes.contains(entry.route) {
            total += entry.count
            if entry.statusClass == 5 { errors += entry.count }
        }
        return (total, errors)
    }
}
