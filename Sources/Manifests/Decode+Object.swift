import RouteModel

/// The kinds Gitway reads, with the one apiVersion it accepts for each.
enum KnownKind: String, CaseIterable {
    case ingress = "Ingress"
    case ingressClass = "IngressClass"
    case service = "Service"
    case endpoints = "Endpoints"
    case secret = "Secret"
    case endpointSlice = "EndpointSlice"
    case mseIngressConfig = "MseIngressConfig"

    var apiVersion: String {
        switch self {
        case .ingress, .ingressClass: return "networking.k8s.io/v1"
        case .service, .endpoints, .secret: return "v1"
        case .endpointSlice: return "discovery.k8s.io/v1"
        case .mseIngressConfig: return "mse.alibabacloud.com/v1alpha1"
        }
    }

    /// API groups whose other versions of this kind are the same object in an older schema (rejected
    /// with a pointer to the supported version). The kind in any other group is someone else's type
    /// (a Knative `Service`, say) and kept as opaque.
    var groups: [String] {
        switch self {
        case .ingress: return ["networking.k8s.io", "extensions"]
        case .ingressClass: return ["networking.k8s.io"]
        case .service, .endpoints, .secret: return [""]
        case .endpointSlice: return ["discovery.k8s.io"]
        case .mseIngressConfig: return ["mse.alibabacloud.com"]
        }
    }

    var namespaced: Bool { self != .ingressClass && self != .mseIngressConfig }

    var hasSpec: Bool { self == .ingress || self == .ingressClass || self == .service || self == .mseIngressConfig }

    static func group(of apiVersion: String) -> String {
        guard let slash = apiVersion.firstIndex(of: "/") else { return "" }
        return String(apiVersion[..<slash])
    }
}

/// Cluster-scoped kinds among those Gitway does not read, so that their keys get no namespace.
/// Any other unread kind is taken as namespaced (the common case), and gets `default`.
private let clusterScopedKinds: Set<String> = [
    "Namespace", "Node", "PersistentVolume", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
    "StorageClass", "PriorityClass", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
    "APIService", "CSIDriver", "CSINode", "RuntimeClass", "VolumeAttachment", "ClusterIssuer", "GatewayClass",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
]

extension ObjectDecoder {
    /// Decodes the document: one object, or each item of a `v1` `List`. Objects with errors are
    /// left out; the items of a List are independent objects, so one bad item drops only itself.
    func decodeDocument(into objects: inout [KubernetesObject]) {
        let root = doc.rootID
        if doc.kind(root) == .mapping, isList(root) {
            var itemsID: NodeID = -1
            forEachField(root, field: nil, context: "List") { key, v in
                switch key {
                case "items": itemsID = v
                case "apiVersion", "kind", "metadata": break
                default: return false
                }
                return true
            }
            forEachItem(itemsID, field: "items") { item in
                if let object = decodeObject(item) { objects.append(object) }
            }
            return
        }
        if let object = decodeObject(root) { objects.append(object) }
    }

    private func isList(_ id: NodeID) -> Bool {
        var kindIsList = false
        var versionIsV1 = false
        doc.forEachPair(id) { k, v in
            if doc.scalarEquals(k, "kind") { kindIsList = doc.scalarEquals(v, "List") }
            if doc.scalarEquals(k, "apiVersion") { versionIsV1 = doc.scalarEquals(v, "v1") }
        }
        return kindIsList && versionIsV1
    }

    /// Decodes one object; nil (after reporting) if it has any error.
    func decodeObject(_ id: NodeID) -> KubernetesObject? {
        let errorsBefore = errorCount
        guard doc.kind(id) == .mapping else {
            let message = "a Kubernetes object must be a mapping, got \(ScalarTyping.describe(doc, id))"
            error(prefixed(message, field: nil), at: id)
            return nil
        }
        var apiVersionID: NodeID = -1
        var kindID: NodeID = -1
        doc.forEachPair(id) { k, v in
            if doc.scalarEquals(k, "apiVersion") { apiVersionID = v }
            if doc.scalarEquals(k, "kind") { kindID = v }
        }
        let apiVersion = string(apiVersionID, field: "apiVersion")
        let kind = string(kindID, field: "kind")
        if apiVersion == nil { require(apiVersionID, "apiVersion", in: id) }
        if kind == nil { require(kindID, "kind", in: id) }
        guard let apiVersion, let kind, errorCount == errorsBefore else { return nil }
        if apiVersion.isEmpty { error("apiVersion must not be empty", at: apiVersionID) }
        if kind.isEmpty { error("kind must not be empty", at: kindID) }
        guard errorCount == errorsBefore else { return nil }

        var known = KnownKind(rawValue: kind)
        if let k = known, k.apiVersion != apiVersion {
            if k.groups.contains(KnownKind.group(of: apiVersion)) {
                error("\(kind) apiVersion \(apiVersion) is not supported; use \(k.apiVersion)", at: apiVersionID)
                return nil
            }
            known = nil
        }
        if kind == "List", apiVersion == "v1" {
            error("a List item cannot be a List", at: kindID)
            return nil
        }

        // Top-level fields, by kind.
        var f = TopLevelFields()
        forEachField(id, field: nil, context: kind) { key, v in
            switch key {
            case "apiVersion", "kind", "status": return true
            case "metadata": f.metadata = v
            case "spec" where known?.hasSpec ?? true: f.spec = v
            case "data" where known == .secret: f.data = v
            case "stringData" where known == .secret: f.stringData = v
            case "type" where known == .secret: f.type = v
            case "immutable" where known == .secret: return true
            case "subsets" where known == .endpoints: f.subsets = v
            case "addressType" where known == .endpointSlice: f.addressType = v
            case "endpoints" where known == .endpointSlice: f.endpoints = v
            case "ports" where known == .endpointSlice: f.ports = v
            default: return known == nil
            }
            return true
        }

        let namespaced = known?.namespaced ?? !clusterScopedKinds.contains(kind)
        guard require(f.metadata, "metadata", in: id) else { return nil }
        let metadata = within("metadata") {
            decodeMetadata(f.metadata, kind: kind, namespaced: namespaced, strictName: known != nil)
        }
        guard let metadata else { return nil }
        let source = ObjectSource(file: doc.file, document: doc.index, location: doc.location(id))

        let object: KubernetesObject
        switch known {
        case nil:
            warning("kind \(kind) (apiVersion \(apiVersion)) is not used by Gitway; kept as is", at: kindID)
            object = .opaque(OpaqueObject(apiVersion: apiVersion, kind: kind, metadata: metadata, source: source))
        case .ingress:
            object = .ingress(decodeIngress(f.spec, object: id, metadata: metadata, source: source))
        case .ingressClass:
            object = .ingressClass(decodeIngressClass(f.spec, metadata: metadata, source: source))
        case .service:
            object = .service(decodeService(f.spec, metadata: metadata, source: source))
        case .endpoints:
            object = .endpoints(decodeEndpoints(f.subsets, metadata: metadata, source: source))
        case .endpointSlice:
            object = .endpointSlice(decodeEndpointSlice(f, object: id, metadata: metadata, source: source))
        case .secret:
            object = .secret(decodeSecret(f, object: id, metadata: metadata, source: source))
        case .mseIngressConfig:
            object = .mseIngressConfig(decodeMseIngressConfig(f.spec, object: id, metadata: metadata, source: source))
        }
        return errorCount == errorsBefore ? object : nil
    }

    /// `metadata`. Server-populated fields (`uid`, `resourceVersion`, ... as `kubectl get -o yaml`
    /// prints them) are accepted and ignored.
    func decodeMetadata(_ id: NodeID, kind: String, namespaced: Bool, strictName: Bool) -> ObjectMeta? {
        var nameID: NodeID = -1, generateNameID: NodeID = -1, namespaceID: NodeID = -1
        var labelsID: NodeID = -1, annotationsID: NodeID = -1
        let isMapping = forEachField(id, field: nil, context: "metadata") { key, v in
            switch key {
            case "name": nameID = v
            case "generateName": generateNameID = v
            case "namespace": namespaceID = v
            case "labels": labelsID = v
            case "annotations": annotationsID = v
            case "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
                "deletionGracePeriodSeconds", "ownerReferences", "finalizers", "managedFields", "selfLink":
                break
            default: return false
            }
            return true
        }
        guard isMapping else { return nil }

        var name = string(nameID, field: "name")
        if name == nil, !present(generateNameID) {
            require(nameID, "name", in: id)
        } else if present(generateNameID) {
            if name == nil {
                error("generateName is not supported in Git manifests; set metadata.name", at: generateNameID)
            } else {
                warning("generateName is ignored: metadata.name is set", at: generateNameID)
            }
        }
        if let n = name {
            if n.isEmpty {
                error(prefixed("name must not be empty", field: "name"), at: nameID)
                name = nil
            } else if strictName, !isDNS1123Subdomain(n) {
                let message =
                    "\(ScalarTyping.quoted(n)) is not a valid name: a DNS-1123 subdomain is lowercase letters, "
                    + "digits, '-' and '.', starts and ends with a letter or digit, and has at most 253 characters"
                error(prefixed(message, field: "name"), at: nameID)
            }
        }

        var namespace = string(namespaceID, field: "namespace") ?? ""
        if !namespace.isEmpty, !namespaced {
            warning("\(kind) is cluster-scoped; metadata.namespace is ignored", at: namespaceID)
            namespace = ""
        } else if !namespace.isEmpty, !isDNS1123Label(namespace) {
            let message =
                "\(ScalarTyping.quoted(namespace)) is not a valid namespace: a DNS-1123 label is lowercase "
                + "letters, digits and '-', starts and ends with a letter or digit, and has at most 63 characters"
            error(prefixed(message, field: "namespace"), at: namespaceID)
        } else if namespace.isEmpty, namespaced {
            namespace = "default"
        }
        let labels = stringMap(labelsID, field: "labels", what: "label").values
        let annotations = stringMap(annotationsID, field: "annotations", what: "annotation", locations: true)
        return ObjectMeta(
            name: name ?? "", namespace: namespace, labels: labels, annotations: annotations.values,
            annotationLocations: annotations.locations, location: doc.location(id))
    }
}

/// The top-level fields of an object, as node ids (-1: absent).
struct TopLevelFields {
    var metadata: NodeID = -1
    var spec: NodeID = -1
    var data: NodeID = -1
    var stringData: NodeID = -1
    var type: NodeID = -1
    var subsets: NodeID = -1
    var addressType: NodeID = -1
    var endpoints: NodeID = -1
    var ports: NodeID = -1
}

/// RFC 1123 subdomain, as Kubernetes validates object names: `[a-z0-9]([-a-z0-9]*[a-z0-9])?` labels
/// joined by dots, at most 253 characters.
func isDNS1123Subdomain(_ s: String) -> Bool {
    let u = s.utf8
    guard !u.isEmpty, u.count <= 253 else { return false }
    var previous: UInt8 = UInt8(ascii: ".")
    for c in u {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): break
        case UInt8(ascii: "-"): if previous == UInt8(ascii: ".") { return false }
        case UInt8(ascii: "."): if previous == UInt8(ascii: ".") || previous == UInt8(ascii: "-") { return false }
        default: return false
        }
        previous = c
    }
    return previous != UInt8(ascii: "-") && previous != UInt8(ascii: ".")
}

/// RFC 1123 label (namespaces): `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
func isDNS1123Label(_ s: String) -> Bool {
    s.utf8.count <= 63 && !s.utf8.contains(UInt8(ascii: ".")) && isDNS1123Subdomain(s)
}
