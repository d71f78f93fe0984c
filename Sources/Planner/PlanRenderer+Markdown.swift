import RouteModel

extension PlanRenderer {
    /// The first line of every Markdown rendering: CI finds its previous comment by it and edits it.
    public static let markdownMarker = "<!-- gitway-plan -->"

    /// GitHub refuses comments over 65,536 characters; stay well below, counted in UTF-8 bytes (never
    /// fewer than characters).
    public static let markdownLimit = 60_000

    /// For a pull-request comment: the summary, the desired revision's diagnostics and failing route
    /// tests (first: they decide whether the change can go live), per-host route tables, TLS, clusters
    /// and objects in apply order.
    ///
    /// Every string that comes from the repository is inside a code span, so a host, path or message
    /// cannot inject Markdown, HTML or @-mentions. When the rendering would exceed `limit`, it stops at a
    /// whole line (a table row, a list item; a table is never left without its header), and a note says
    /// what was left out.
    public static func markdown(_ plan: Plan, limit: Int = markdownLimit) -> String {
        var doc = MarkdownDocument()
        doc.header(markdownMarker)
        doc.header("### Gitway plan")
        doc.header("")
        doc.header("\(Markdown.code(plan.base)) → \(Markdown.code(plan.head))")
        doc.header("")
        doc.header(
            "**Routes:** \(routeCounts(plan)) (\(plan.routes.unchangedRoutes) unchanged) · "
                + "**Objects:** \(objectCounts(plan)) (\(plan.unchangedObjects) unchanged) · "
                + "**Checks:** \(checkCounts(plan))")
        if plan.prunesEverything {
            doc.header("")
            doc.header("> [!WARNING]")
            doc.header("> Every live object would be pruned: applying this plan needs `--allow-empty`.")
        }
        if !plan.hasChanges {
            doc.header("")
            doc.header("No changes.")
        }

        if !plan.checks.diagnostics.isEmpty {
            doc.heading("#### Diagnostics of the head revision")
            for d in plan.checks.diagnostics { doc.item("- " + Markdown.code(d.description), category: "diagnostics") }
        }
        if !plan.checks.routeTestFailures.isEmpty {
            doc.heading("#### Failing route tests")
            for d in plan.checks.routeTestFailures {
                doc.item("- " + Markdown.code(d.description), category: "route test failures")
            }
        }
        for host in plan.routes.hosts {
            let title =
                "#### Routes of \(Markdown.code(host.host))"
                + (host.change == .changed ? "" : " (host \(host.change.rawValue))")
                + (host.orderChanged == true ? " (route order changed: the first match wins)" : "")
            if host.routes.isEmpty {
                doc.heading(title)
                doc.item("Same routes, tried in another order.", category: "route changes")
                continue
            }
            doc.table(
                heading: title, columns: ["Change", "Match", "Backends", "Before", "Policies", "Source"],
                rows: host.routes.map(routeRow), category: "route changes")
        }
        if !plan.routes.tls.isEmpty {
            doc.heading("#### TLS")
            for t in plan.routes.tls {
                let line = "- \(t.change.rawValue) \(Markdown.code(t.host)): " + tlsCell(t)
                doc.item(line, category: "TLS changes")
            }
        }
        if !plan.routes.clusters.isEmpty {
            doc.heading("#### Clusters")
            for c in plan.routes.clusters {
                doc.item("- \(c.change.rawValue) \(Markdown.code(c.name)): " + Markdown.code(endpoints(c)), category: "cluster changes")
            }
        }
        if !plan.objects.isEmpty {
            doc.heading("#### Objects, in apply order")
            var group = ""
            for change in plan.objects {
                let g = change.action == .prune ? "Prune, in reverse order" : "Wave \(change.wave.rawValue + 1): \(change.wave.title)"
                var line = "- \(change.action.rawValue) \(Markdown.code(change.object.description))"
                if !change.fields.isEmpty {
                    line += ": " + change.fields.map { Markdown.code($0.summary) }.joined(separator: ", ")
                }
                if g != group {
                    group = g
                    doc.subheading("**\(g)**", firstItem: line, category: "object changes")
                } else {
                    doc.item(line, category: "object changes")
                }
            }
        }
        return doc.render(limit: limit)
    }

    static func routeRow(_ r: RouteChange) -> [String] {
        let change = r.change == .changed ? "changed: " + aspects(r) : r.change.rawValue
        let policies = r.policies.map { Markdown.code($0, inTable: true) }.joined(separator: ", ")
        return [
            Markdown.text(change, inTable: true), Markdown.code(r.match.summary, inTable: true),
            r.after.map(actionCell) ?? "", r.change == .added ? "" : r.before.map(actionCell) ?? "", policies,
            Markdown.code(r.source.description, inTable: true),
        ]
    }

    /// Backends with their weights when there are several; redirects and direct responses in words.
    static func actionCell(_ action: RouteAction) -> String {
        if let forward = action.forward {
            if forward.backends.count == 1 { return Markdown.code(forward.backends[0].cluster, inTable: true) }
            return forward.backends.map { Markdown.code($0.cluster, inTable: true) + " \($0.weight)" }
                .joined(separator: ", ")
        }
        if let redirect = action.redirect {
            return "redirect \(redirect.status) " + Markdown.code(redirect.location, inTable: true)
        }
        if let direct = action.directResponse { return "respond \(direct.status)" }
        return ""
    }

    static func tlsCell(_ t: TLSChange) -> String {
        switch t.change {
        case .added: return "secret " + Markdown.code(t.after ?? "")
        case .removed: return "secret " + Markdown.code(t.before ?? "")
        case .changed: return "secret " + Markdown.code(t.before ?? "") + " → " + Markdown.code(t.after ?? "")
        }
    }
}

/// Safe Markdown pieces.
enum Markdown {
    /// Longest cell or span content kept; longer (hostile) values are cut with an ellipsis.
    static let maxSpan = 300

    /// A code span holding `s` literally: newlines become spaces, the fence is longer than any run of
    /// backticks inside, and in a table `|` is escaped (GitHub splits cells before parsing spans).
    static func code(_ s: String, inTable: Bool = false) -> String {
        var t = s.replacingOccurrences(of: "\r\n", with: " ").replacingOccurrences(of: "\n", with: " ")
            .replacingOccurrences(of: "\r", with: " ")
        if t.count > maxSpan { t = String(t.prefix(maxSpan - 1)) + "…" }
        if inTable { t = t.replacingOccurrences(of: "|", with: "\\|") }
        var longest = 0
        var run = 0
        for c in t {
            run = c == "`" ? run + 1 : 0
            longest = max(longest, run)
        }
        let fence = String(repeating: "`", count: longest + 1)
        let pad = t.isEmpty || t.hasPrefix("`") || t.hasSuffix("`") || t.hasPrefix(" ") ? " " : ""
        return fence + pad + t + pad + fence
    }

    /// Plain text of our own wording (never repository content): only table pipes need escaping.
    static func text(_ s: String, inTable: Bool = false) -> String {
        inTable ? s.replacingOccurrences(of: "|", with: "\\|") : s
    }
}

/// Markdown built as whole chunks (a heading with its first line, a table header with its first row,
/// one row, one list item), so truncation can only ever cut between them.
struct MarkdownDocument {
    struct Chunk {
        var text: String
        var category: String?
    }

    private var head: [String] = []
    private var chunks: [Chunk] = []
    /// A heading waiting for its first item, so a heading is never printed alone.
    private var pendingHeading: String?

    mutating func header(_ line: String) { head.append(line) }

    mutating func heading(_ line: String) { pendingHeading = "\n" + line + "\n\n" }

    mutating func subheading(_ line: String, firstItem: String, category: String) {
        // A pending heading already ends with a blank line.
        chunks.append(Chunk(text: (pendingHeading ?? "\n") + line + "\n\n" + firstItem + "\n", category: category))
        pendingHeading = nil
    }

    mutating func item(_ line: String, category: String) {
        chunks.append(Chunk(text: (pendingHeading ?? "") + line + "\n", category: category))
        pendingHeading = nil
    }

    mutating func table(heading: String, columns: [String], rows: [[String]], category: String) {
        guard let first = rows.first else { return }
        func row(_ cells: [String]) -> String { "| " + cells.joined(separator: " | ") + " |\n" }
        let top = "\n" + heading + "\n\n" + row(columns) + "|" + String(repeating: "---|", count: columns.count) + "\n"
        chunks.append(Chunk(text: top + row(first), category: category))
        for r in rows.dropFirst() { chunks.append(Chunk(text: row(r), category: category)) }
    }

    /// Everything that fits in `limit` UTF-8 bytes, then a note on what was left out.
    func render(limit: Int) -> String {
        var out = head.joined(separator: "\n") + "\n"
        // Room for the note, whose length depends only on a few counts.
        let budget = limit - 600
        var omitted: [String: Int] = [:]
        var order: [String] = []
        var used = out.utf8.count
        var cut = false
        for chunk in chunks {
            let size = chunk.text.utf8.count
            if !cut, used + size <= budget {
                out += chunk.text
                used += size
                continue
            }
            cut = true
            let category = chunk.category ?? "lines"
            if omitted[category] == nil { order.append(category) }
            omitted[category, default: 0] += 1
        }
        if cut {
            let parts = order.map { "\(omitted[$0]!) \($0)" }.joined(separator: ", ")
            out += "\n> **Truncated** to stay under \(limit) characters. Left out: \(parts). "
            out += "Run `gitway plan` with `--format text` or `--format json` for the whole plan.\n"
        }
        return out
    }
}
