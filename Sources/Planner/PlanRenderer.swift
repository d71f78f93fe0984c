import Foundation
import RouteModel

/// Renders a plan for people (text, Markdown) and tools (JSON). Every renderer is deterministic:
/// the same plan gives byte-identical output, so renderings can be golden files and PR comments are
/// only rewritten when the plan really changed.
public enum PlanRenderer {
    public enum Format: String, Sendable, CaseIterable {
        case text, markdown, json
    }

    public static func render(_ plan: Plan, as format: Format) -> String {
        switch format {
        case .text: return text(plan)
        case .markdown: return markdown(plan)
        case .json: return json(plan)
        }
    }

    /// Canonical JSON: sorted keys, two-space indentation, `/` unescaped, trailing newline.
    public static func json(_ plan: Plan) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        // Plain structs of strings, ints and bools: encoding cannot fail.
        let data = try! encoder.encode(plan)
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    // MARK: Shared wording

    /// `2 added, 1 removed, 1 changed`.
    static func routeCounts(_ plan: Plan) -> String {
        let r = plan.routes
        return "\(r.count(.added)) added, \(r.count(.removed)) removed, \(r.count(.changed)) changed"
    }

    /// `1 to create, 2 to update, 0 to prune`.
    static func objectCounts(_ plan: Plan) -> String {
        "\(plan.count(.create)) to create, \(plan.count(.update)) to update, \(plan.count(.prune)) to prune"
    }

    /// `1 error, 0 warnings; 3 route tests, 1 failed`.
    static func checkCounts(_ plan: Plan) -> String {
        let c = plan.checks
        return "\(plural(c.errorCount, "error")), \(plural(c.warningCount, "warning")); "
            + "\(plural(c.routeTests, "route test")), \(c.routeTestFailures.count) failed"
    }

    static func plural(_ n: Int, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }

    static func aspects(_ change: RouteChange) -> String {
        change.aspects.map { aspect in
            aspect == .policies && !change.policies.isEmpty
                ? "policies (" + change.policies.joined(separator: ", ") + ")" : aspect.rawValue
        }
        .joined(separator: ", ")
    }

    static func endpoints(_ c: ClusterChange) -> String {
        var parts: [String] = []
        switch c.change {
        case .added: parts.append(plural(c.endpointsAfter, "endpoint"))
        case .removed: parts.append("had " + plural(c.endpointsBefore, "endpoint"))
        case .changed:
            if c.endpointsBefore != c.endpointsAfter || !c.endpointsAdded.isEmpty || !c.endpointsRemoved.isEmpty {
                parts.append("endpoints \(c.endpointsBefore) → \(c.endpointsAfter)")
            }
        }
        if c.change == .changed {
            let listed = c.endpointsAdded.prefix(5).map { "+" + $0 } + c.endpointsRemoved.prefix(5).map { "-" + $0 }
            let more = c.endpointsAdded.count + c.endpointsRemoved.count - listed.count
            if !listed.isEmpty { parts.append(listed.joined(separator: " ") + (more > 0 ? " and \(more) more" : "")) }
        }
        return (parts + c.notes).joined(separator: "; ")
    }

    static func tlsLine(_ t: TLSChange) -> String {
        switch t.change {
        case .added: return "secret \(t.after ?? "")"
        case .removed: return "secret \(t.before ?? "")"
        case .changed: return "secret \(t.before ?? "") → \(t.after ?? "")"
        }
    }
}

extension RouteAction {
    /// `shop/web:80`, `shop/web:80 (weight 90), shop/canary:80 (weight 10)`, `redirect 301 https://…`,
    /// `respond 503`. Raw weights, not percentages: a rounded percentage can hide a change.
    var planSummary: String {
        if let forward {
            if forward.backends.count == 1 { return forward.backends[0].cluster }
            return forward.backends.map { "\($0.cluster) (weight \($0.weight))" }.joined(separator: ", ")
        }
        return summary
    }
}
