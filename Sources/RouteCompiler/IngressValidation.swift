import Manifests
import RouteModel

/// The Ingress v1 rules the API server enforces (Kubernetes `pkg/apis/networking/validation`): a
/// repository is applied without an API server in front of it, so Gitway checks them itself.
/// Any error here leaves the whole Ingress out, as the API server would refuse it.
enum IngressValidation {
    static func validate(_ ingress: Ingress) -> [Diagnostic] {
        var out: [Diagnostic] = []
        let spec = ingress.spec
        if spec.rules.isEmpty && spec.defaultBackend == nil {
            out.append(.error("Ingress must have spec.rules or spec.defaultBackend", at: spec.location))
        }
        for rule in spec.rules {
            if let host = rule.host, let problem = hostProblem(host) {
                out.append(.error("invalid host \"\(host)\": \(problem)", at: rule.hostLocation ?? rule.location))
            }
            for path in rule.paths ?? [] {
                if let problem = pathProblem(path.path, type: path.pathType) {
                    out.append(.error(problem, at: path.pathLocation ?? path.location))
                }
            }
        }
        for tls in spec.tls {
            for host in tls.hosts {
                if let problem = hostProblem(host) {
                    out.append(.error("invalid TLS host \"\(host)\": \(problem)", at: tls.location))
                }
            }
        }
        return out
    }

    /// A DNS-1123 subdomain, or `*.` followed by one; never an IP address, never a port.
    static func hostProblem(_ host: String) -> String? {
        if host.isEmpty { return "must not be empty" }
        if host.contains(":") { return "must not contain a port" }
        var name = Substring(host)
        if name.hasPrefix("*.") {
            name = name.dropFirst(2)
        } else if name.contains("*") {
            return "a wildcard is allowed only as the whole first label (\"*.example.com\")"
        }
        if isIPv4(name) { return "must be a DNS name, not an IP address" }
        if name.count > 253 { return "must be at most 253 characters" }
        for label in name.split(separator: ".", omittingEmptySubsequences: false) {
            if label.isEmpty || label.count > 63 { return "each label must have 1 to 63 characters" }
            let ok = label.utf8.allSatisfy { c in (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == 45 }
            if !ok { return "must consist of lowercase letters, digits, '-' and '.'" }
            if label.first == "-" || label.last == "-" { return "labels must start and end with a letter or digit" }
        }
        return nil
    }

    static func isIPv4(_ s: Substring) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { p in !p.isEmpty && p.count <= 3 && p.allSatisfy(\.isNumber) }
    }

    static func pathProblem(_ path: String?, type: PathType) -> String? {
        guard let path, !path.isEmpty else {
            return type == .implementationSpecific ? nil : "path is required for pathType \(type.rawValue)"
        }
        guard path.hasPrefix("/") else { return "path \"\(path)\" must be absolute (start with '/')" }
        guard type != .implementationSpecific else { return nil }
        for bad in ["//", "/./", "/../", "%2f", "%2F"] where path.contains(bad) {
            return "path \"\(path)\" must not contain '\(bad)'"
        }
        for bad in ["/..", "/."] where path.hasSuffix(bad) {
            return "path \"\(path)\" must not end with '\(bad)'"
        }
        return nil
    }
}
