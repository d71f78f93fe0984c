import RouteModel

extension PlanRenderer {
    /// For terminals: a summary, then routes by host (`+` added, `-` removed, `~` changed), TLS,
    /// clusters, objects in apply order, and the desired revision's diagnostics and failing tests.
    public static func text(_ plan: Plan) -> String {
        var out = "Plan: \(plan.base) → \(plan.head)\n"
        out += "Routes: \(routeCounts(plan)); \(plan.routes.unchangedRoutes) unchanged\n"
        out += "Objects: \(objectCounts(plan)); \(plan.unchangedObjects) unchanged\n"
        out += "Checks: \(checkCounts(plan))\n"
        if plan.prunesEverything {
            out += "WARNING: every live object would be pruned (applying this needs --allow-empty)\n"
        }
        if !plan.hasChanges { out += "\nNo changes.\n" }

        if !plan.routes.hosts.isEmpty {
            out += "\nRoutes\n"
            for host in plan.routes.hosts {
                out += "  \(host.host)" + (host.change == .changed ? "" : " (host \(host.change.rawValue))")
                out += host.orderChanged == true ? " (route order changed: the first match wins)\n" : "\n"
                for r in host.routes {
                    let match = r.match.summary
                    switch r.change {
                    case .added:
                        out += "    + \(match) → \(r.after?.planSummary ?? "-")  (\(r.source))\n"
                    case .removed:
                        out += "    - \(match) → \(r.before?.planSummary ?? "-")  (was \(r.source))\n"
                    case .changed:
                        out += "    ~ \(match): \(r.before?.planSummary ?? "-") → \(r.after?.planSummary ?? "-")"
                        out += "  [\(aspects(r))]  (\(r.source))\n"
                    }
                }
            }
        }
        if !plan.routes.tls.isEmpty {
            out += "\nTLS\n"
            for t in plan.routes.tls { out += "  \(symbol(t.change.rawValue)) \(t.host)  \(tlsLine(t))\n" }
        }
        if !plan.routes.clusters.isEmpty {
            out += "\nClusters\n"
            for c in plan.routes.clusters { out += "  \(symbol(c.change.rawValue)) \(c.name)  \(endpoints(c))\n" }
        }
        if !plan.objects.isEmpty {
            out += "\nObjects, in apply order\n"
            var heading = ""
            for change in plan.objects {
                let h =
                    change.action == .prune
                    ? "Prune, in reverse order" : "Wave \(change.wave.rawValue + 1): \(change.wave.title)"
                if h != heading {
                    out += "  \(h)\n"
                    heading = h
                }
                out += "    \(objectSymbol(change.action)) \(change.action.rawValue) \(change.object)"
                if !change.fields.isEmpty { out += ": \(change.summary)" }
                if let location = change.location { out += "  (\(location))" }
                out += "\n"
            }
        }
        if !plan.checks.diagnostics.isEmpty {
            out += "\nDiagnostics of \(plan.head)\n"
            for d in plan.checks.diagnostics { out += "  \(d)\n" }
        }
        if !plan.checks.routeTestFailures.isEmpty {
            out += "\nFailing route tests of \(plan.head)\n"
            for d in plan.checks.routeTestFailures { out += "  \(d)\n" }
        }
        return out
    }

    static func symbol(_ change: String) -> String {
        switch change {
        case "added": return "+"
        case "removed": return "-"
        default: return "~"
        }
    }

    static func objectSymbol(_ action: ObjectChange.Action) -> String {
        switch action {
        case .create: return "+"
        case .prune: return "-"
        case .update: return "~"
        }
    }
}
