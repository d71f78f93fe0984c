import DataPlane
import Foundation

/// The Prometheus text exposition format (version 0.0.4) of the agent's and data plane's counters.
enum PrometheusText {
    static func render(
        metrics: MetricsSnapshot, status: AgentStatus, counters: SyncCounters,
        webhooks: [(provider: String, result: String, count: Int)] = []
    ) -> String {
        var out = ""
        out += "# HELP gitway_requests_total Requests served, by route and status class.\n"
        out += "# TYPE gitway_requests_total counter\n"
        var merged: [String: Int] = [:]
        for r in metrics.requests { merged["route=\"\(escape(r.route))\",code=\"\(r.statusClass)xx\"", default: 0] += r.count }
        for key in merged.keys.sorted() { out += "gitway_requests_total{\(key)} \(merged[key]!)\n" }

        out += "# HELP gitway_upstream_latency_seconds Time from sending a request upstream to its response head.\n"
        out += "# TYPE gitway_upstream_latency_seconds histogram\n"
        var cumulative = 0
        for (i, bound) in metrics.latencyBuckets.enumerated() {
            cumulative += metrics.latencyCounts[i]
            out += "gitway_upstream_latency_seconds_bucket{le=\"\(bound)\"} \(cumulative)\n"
        }
        cumulative += metrics.latencyCounts.last ?? 0
        out += "gitway_upstream_latency_seconds_bucket{le=\"+Inf\"} \(cumulative)\n"
        out += "gitway_upstream_latency_seconds_sum \(metrics.latencySum)\n"
        out += "gitway_upstream_latency_seconds_count \(cumulative)\n"

        out += "# HELP gitway_active_connections Open client connections.\n# TYPE gitway_active_connections gauge\n"
        out += "gitway_active_connections \(metrics.activeConnections)\n"
        out += "# HELP gitway_requests_in_flight Requests received and not yet answered.\n# TYPE gitway_requests_in_flight gauge\n"
        out += "gitway_requests_in_flight \(metrics.inFlight)\n"
        out += "# HELP gitway_accepted_connections_total Client connections accepted.\n# TYPE gitway_accepted_connections_total counter\n"
        out += "gitway_accepted_connections_total \(metrics.acceptedConnections)\n"
        out += "# HELP gitway_upstream_connect_failures_total Upstream connections that could not be established.\n"
        out += "# TYPE gitway_upstream_connect_failures_total counter\n"
        out += "gitway_upstream_connect_failures_total \(metrics.upstreamConnectFailures)\n"
        out += "# HELP gitway_upstream_idle_connections Pooled upstream connections waiting for a request.\n"
        out += "# TYPE gitway_upstream_idle_connections gauge\n"
        out += "gitway_upstream_idle_connections \(metrics.idleUpstreamConnections)\n"

        out += "# HELP gitway_revision_info The revision being served.\n# TYPE gitway_revision_info gauge\n"
        if let revision = status.revision { out += "gitway_revision_info{revision=\"\(revision)\"} 1\n" }
        out += "# HELP gitway_routes Routes in the live revision.\n# TYPE gitway_routes gauge\n"
        out += "gitway_routes \(status.routes ?? 0)\n"
        out += "# HELP gitway_syncs_total Sync attempts by result.\n# TYPE gitway_syncs_total counter\n"
        out += "gitway_syncs_total{result=\"applied\"} \(counters.applied)\n"
        out += "gitway_syncs_total{result=\"refused\"} \(counters.refused)\n"
        out += "gitway_syncs_total{result=\"failed\"} \(counters.failed)\n"
        out += "gitway_syncs_total{result=\"unchanged\"} \(counters.unchanged)\n"
        out += "gitway_syncs_total{result=\"rolledBack\"} \(counters.rolledBack.values.reduce(0, +))\n"
        out += "# HELP gitway_rollback_total Transactions rolled back, by the stage that failed.\n"
        out += "# TYPE gitway_rollback_total counter\n"
        for stage in counters.rolledBack.keys.sorted() {
            out += "gitway_rollback_total{stage=\"\(stage)\"} \(counters.rolledBack[stage]!)\n"
        }
        out += "# HELP gitway_webhook_requests_total Webhook deliveries by provider and result.\n"
        out += "# TYPE gitway_webhook_requests_total counter\n"
        for w in webhooks { out += "gitway_webhook_requests_total{provider=\"\(w.provider)\",result=\"\(w.result)\"} \(w.count)\n" }
        out += "# HELP gitway_revision_loads_total Revisions read and compiled (an unchanged tip costs none).\n"
        out += "# TYPE gitway_revision_loads_total counter\n"
        out += "gitway_revision_loads_total \(counters.loads)\n"
        if let swap = status.swapMilliseconds {
            out += "# HELP gitway_last_swap_seconds Time the last revision swap took.\n# TYPE gitway_last_swap_seconds gauge\n"
            out += "gitway_last_swap_seconds \(swap / 1000)\n"
        }
        return out
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
