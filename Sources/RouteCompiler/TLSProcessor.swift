import Manifests
import RouteModel

/// Certificates by SNI host (mse-features.md §5.6): the oldest Ingress with TLS for a host wins;
/// a TLS section without hosts serves `*` (also clients without SNI).
enum TLSProcessor {
    static func run(_ b: inout Builder) {
        var owners: [String: (ObjectKey, SourceLocation)] = [:]
        let ruleHostsByIngress = Dictionary(
            b.selected.map { ($0.key, Set($0.spec.rules.compactMap(\.host))) }, uniquingKeysWith: { a, _ in a })
        for ingress in b.selected where b.served.contains(ingress.key) {
            let namespace = ingress.metadata.namespace
            for section in ingress.spec.tls {
                guard let secretName = section.secretName, !secretName.isEmpty else {
                    b.report(.warning("TLS section without secretName; these hosts get the default certificate", at: section.location))
                    continue
                }
                let secretKey = ObjectIndex.key(namespace, secretName)
                if let secret = b.index.secrets[secretKey], secret.type != "kubernetes.io/tls" {
                    b.report(
                        .error("Secret \(secretKey) has type \(secret.type), expected kubernetes.io/tls", at: section.location))
                    continue
                }
                if b.index.secrets[secretKey] == nil {
                    b.report(
                        .warning(
                            "Secret \(secretKey) is not in the repository; the gateway needs it at run time", at: section.location))
                }
                let hosts = section.hosts.isEmpty ? ["*"] : section.hosts
                for host in hosts {
                    if host != "*", !(ruleHostsByIngress[ingress.key]?.contains(host) ?? false) {
                        b.report(.warning("TLS host \(host) matches no rule host of this Ingress", at: section.location))
                    }
                    if let (owner, location) = owners[host] {
                        if owner != ingress.key {
                            b.report(
                                .warning(
                                    "TLS for \(host) is already provided by Ingress \(owner.namespace)/\(owner.name) "
                                        + "(defined at \(location)), which is older or sorts first and wins",
                                    at: section.location))
                        }
                        continue
                    }
                    owners[host] = (ingress.key, section.location)
                    b.tls.append(
                        TLSBinding(
                            host: host, secret: secretKey,
                            source: RouteSource(object: ingress.key.description, location: section.location)))
                }
            }
        }
    }
}
