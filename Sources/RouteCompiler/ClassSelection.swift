import Manifests
import RouteModel

/// Which Ingresses this repository's gateways serve (mse-features.md §1 and §5.4).
///
/// - No IngressClass and no MseIngressConfig in the repository: the repository is dedicated to
///   one gateway, so every Ingress is served, whatever its class.
/// - Otherwise each MseIngressConfig is a gateway. IngressClasses bound to it through
///   `spec.parameters` name its classes; when none is bound, its `spec.ingress.local.ingressClass`
///   filter applies (`""` = all, `nginx` = class nginx or no class, other = that class, unset =
///   none). `watchNamespace` limits either way. Without any MseIngressConfig, IngressClasses whose
///   controller is MSE or Higress are ours.
/// - An Ingress's class is the legacy `kubernetes.io/ingress.class` annotation, else
///   `spec.ingressClassName`, else the single IngressClass marked
///   `ingressclass.kubernetes.io/is-default-class` (the API server's admission would write it in).
enum ClassSelection {
    static let legacyClassAnnotation = "kubernetes.io/ingress.class"
    static let defaultClassAnnotation = "ingressclass.kubernetes.io/is-default-class"
    static let mseAPIGroup = "mse.alibabacloud.com"
    /// Controllers whose IngressClasses a repository without MseIngressConfig hands to us.
    static let knownControllers: Set<String> = ["mse.alibabacloud.com/ingress", "higress.io/higress-controller"]

    static func run(_ b: inout Builder) {
        let ingresses = b.oldestFirst(b.manifests.ingresses)
        let classes = b.manifests.ingressClasses
        var configs = b.manifests.mseIngressConfigs
        if let gateway = b.options.gateway {
            configs = configs.filter { $0.metadata.name == gateway }
            if configs.isEmpty {
                b.report(.error("no MseIngressConfig named \"\(gateway)\" in the repository", at: nil))
            }
        }
        if classes.isEmpty && b.manifests.mseIngressConfigs.isEmpty {
            b.selected = ingresses
            return
        }

        checkBindings(&b, classes: classes)
        let defaults = classes.filter { $0.metadata.annotations[defaultClassAnnotation] == "true" }
        let gateways = configs.map { config in
            Gateway(config: config, boundClasses: Set(classes.filter { $0.binds(to: config) }.map(\.metadata.name)))
        }
        let controllerClasses = Set(classes.filter { knownControllers.contains($0.controller ?? "") }.map(\.metadata.name))

        for ingress in ingresses {
            let legacy = ingress.metadata.annotations[legacyClassAnnotation]
            let named = ingress.spec.ingressClassName
            if let legacy, let named, legacy != named {
                b.report(
                    .error(
                        "annotation \(legacyClassAnnotation) \"\(legacy)\" disagrees with spec.ingressClassName \"\(named)\"",
                        at: ingress.metadata.annotationLocations[legacyClassAnnotation] ?? ingress.source.location))
                b.excluded.append(.init(ingress: ingress.key, reason: "conflicting class annotation and ingressClassName"))
                continue
            }
            var effective = legacy ?? named
            if effective == nil {
                if defaults.count > 1 {
                    let names = defaults.map(\.metadata.name).sorted().joined(separator: ", ")
                    b.report(
                        .error(
                            "Ingress \(ingress.key.namespace)/\(ingress.key.name) has no class and \(defaults.count) "
                                + "IngressClasses are marked default (\(names)); set spec.ingressClassName",
                            at: ingress.source.location))
                    b.excluded.append(.init(ingress: ingress.key, reason: "ambiguous default IngressClass"))
                    continue
                }
                effective = defaults.first?.metadata.name
            }

            if let reason = exclusionReason(
                ingress: ingress, effectiveClass: effective, gateways: gateways, controllerClasses: controllerClasses)
            {
                b.report(
                    .warning("Ingress \(ingress.key.namespace)/\(ingress.key.name) is not served: \(reason)", at: ingress.source.location))
                b.excluded.append(.init(ingress: ingress.key, reason: reason))
            } else {
                b.selected.append(ingress)
            }
        }
    }

    struct Gateway {
        var config: MseIngressConfig
        var boundClasses: Set<String>
    }

    /// `nil` when some gateway serves the Ingress.
    static func exclusionReason(
        ingress: Ingress, effectiveClass: String?, gateways: [Gateway], controllerClasses: Set<String>
    ) -> String? {
        let namespace = ingress.metadata.namespace
        guard !gateways.isEmpty else {
            if let effectiveClass {
                return controllerClasses.contains(effectiveClass)
                    ? nil : "class \"\(effectiveClass)\" is not an MSE or Higress IngressClass of this repository"
            }
            return "it has no class and no IngressClass is marked default"
        }
        var reasons: [String] = []
        for gateway in gateways {
            let spec = gateway.config.spec
            let name = gateway.config.metadata.name
            let classMatches: Bool
            if !gateway.boundClasses.isEmpty {
                classMatches = effectiveClass.map(gateway.boundClasses.contains) ?? false
            } else if let filter = spec.ingressClass {
                switch filter {
                case "": classMatches = true
                case "nginx": classMatches = effectiveClass == nil || effectiveClass == "nginx"
                default: classMatches = effectiveClass == filter
                }
            } else {
                classMatches = false
            }
            if !classMatches {
                reasons.append(
                    "class \(effectiveClass.map { "\"\($0)\"" } ?? "(none)") is not served by MseIngressConfig \(name)")
                continue
            }
            if let watch = spec.watchNamespace, !watch.isEmpty, watch != namespace {
                reasons.append("namespace \"\(namespace)\" is outside watchNamespace \"\(watch)\" of MseIngressConfig \(name)")
                continue
            }
            return nil
        }
        return reasons.joined(separator: "; ")
    }

    /// IngressClass parameters that point at an MseIngressConfig the repository does not hold.
    static func checkBindings(_ b: inout Builder, classes: [IngressClass]) {
        let names = Set(b.manifests.mseIngressConfigs.map(\.metadata.name))
        for ingressClass in classes {
            guard let p = ingressClass.parameters, p.kind == "MseIngressConfig" else { continue }
            if !names.contains(p.name) {
                b.report(
                    .warning(
                        "IngressClass \(ingressClass.metadata.name) refers to MseIngressConfig \"\(p.name)\", "
                            + "which is not in the repository",
                        at: p.location))
            }
        }
    }
}

extension IngressClass {
    func binds(to config: MseIngressConfig) -> Bool {
        guard let p = parameters, p.kind == "MseIngressConfig", p.name == config.metadata.name else { return false }
        return p.apiGroup == nil || p.apiGroup == ClassSelection.mseAPIGroup
    }
}
