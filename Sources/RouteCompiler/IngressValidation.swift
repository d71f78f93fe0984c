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
    /// One pass over the bytes: this runs for every rule of every Ingress.
    static func hostProblem(_ host: String) -> String? {
        var bytes = Array(host.utf8)
        if bytes.isEmpty { return "must not be empty" }
        if bytes.contains(UInt8(ascii: ":")) { return "must not contain a port" }
        if bytes.count > 2 && bytes[0] == UInt8(ascii: "*") && bytes[1] == UInt8(ascii: ".") {
            bytes.removeFirst(2)
        } else if bytes.contains(UInt8(ascii: "*")) {
            return "a wildcard is allowed only as the whole first label (\"*.example.com\")"
        }
        if bytes.count > 253 { return "must be at most 253 characters" }
        var labelStart = 0
        var labels = 0
        var allDigitsAndDots = true
        for i in 0...bytes.count {
            if i == bytes.count || bytes[i] == UInt8(ascii: ".") {
                let length = i - labelStart
                if length == 0 || length > 63 { return "each label must have 1 to 63 characters" }
                if bytes[labelStart] == UInt8(ascii: "-") || bytes[i - 1] == UInt8(ascii: "-") {
                    return "labels must start and end with a letter or digit"
                }
                labels += 1
                labelStart = i + 1
                continue
            }
            let c = bytes[i]
            let isDigit = c >= 48 && c <= 57
            if !isDigit { allDigitsAndDots = false }
            if !(isDigit || (c >= 97 && c <= 122) || c == UInt8(ascii: "-")) {
                return "must consist of lowercase letters, digits, '-' and '.'"
            }
        }
        if allDigitsAndDots && labels == 4 { return "must be a DNS name, not an IP address" }
        return nil
    }

    static func pathProblem(_ path: String?, type: PathType) -> String? {
        guard let path, !path.isEmpty else {
            return type == .implementationSpecific ? nil : "path is required for pathType \(type.rawValue)"
        }
        guard path.hasPrefix("/") else { return "path \"\(path)\" must be absolute (start with '/')" }
        guard type != .implementationSpecific else { return nil }
        if let bad = forbiddenSequence(in: path) { return "path \"\(path)\" must not contain '\(bad)'" }
        for bad in ["/..", "/."] where path.hasSuffix(bad) {
            return "path \"\(path)\" must not end with '\(bad)'"
        }
        return nil
    }

    /// The first of `//`, `/./`, `/../`, `%2f`, `%2F` in `path`: one pass over the bytes, since this runs for every path.
    static func forbiddenSequence(in path: String) -> String? {
        let bytes = Array(path.utf8)
        for i in bytes.indices {
            let rest = bytes.count - i
            if bytes[i] == UInt8(ascii: "/") && rest >= 2 {
                if bytes[i + 1] == UInt8(ascii: "/") { return "//" }
                if bytes[i + 1] == UInt8(ascii: ".") && rest >= 3 && bytes[i + 2] == UInt8(ascii: "/") { return "/./" }
                if bytes[i + 1] == UInt8(ascii: ".") && rest >= 4 && bytes[i + 2] == UInt8(ascii: ".") && bytes[i + 3] == UInt8(ascii: "/")
                {
                    return "/../"
                }
            } else if bytes[i] == UInt8(ascii: "%") && rest >= 3 && bytes[i + 1] == UInt8(ascii: "2") {
                if bytes[i + 2] == UInt8(ascii: "f") { return "%2f" }
                if bytes[i + 2] == UInt8(ascii: "F") { return "%2F" }
            }
        }
        return nil
    }
}
