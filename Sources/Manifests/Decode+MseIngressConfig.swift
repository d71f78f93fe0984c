import RouteModel

/// mse.alibabacloud.com/v1alpha1 MseIngressConfig. Gateway sizing, networking, billing (`common`)
/// and observability (`monitor`) mean nothing to an embedded gateway: they are accepted and listed in
/// `ignoredFields`, so `validate --verbose` can say so instead of failing on a real MSE manifest.
extension ObjectDecoder {
    func decodeMseIngressConfig(
        _ specID: NodeID, object: NodeID, metadata: ObjectMeta, source: ObjectSource
    ) -> MseIngressConfig {
        var spec = MseIngressConfigSpec(location: present(specID) ? doc.location(specID) : doc.location(object))
        within("spec") {
            var nameID: NodeID = -1, idID: NodeID = -1, overrideID: NodeID = -1, ingressID: NodeID = -1
            var globalID: NodeID = -1
            forEachField(specID, field: nil, context: "MseIngressConfig spec") { key, v in
                switch key {
                case "name": nameID = v
                case "id": idID = v
                case "override": overrideID = v
                case "ingress": ingressID = v
                case "global": globalID = v
                case "common", "monitor": listLeaves(v, path: key, into: &spec.ignoredFields)
                default: return false
                }
                return true
            }
            spec.name = string(nameID, field: "name")
            spec.id = string(idID, field: "id")
            spec.override = bool(overrideID, field: "override")
            within("ingress") {
                var localID: NodeID = -1
                forEachField(ingressID, field: nil, context: "MseIngressConfig spec.ingress") { key, v in
                    guard key == "local" else { return false }
                    localID = v
                    return true
                }
                within("local") {
                    var classID: NodeID = -1, namespaceID: NodeID = -1
                    forEachField(localID, field: nil, context: "MseIngressConfig spec.ingress.local") { key, v in
                        switch key {
                        case "ingressClass": classID = v
                        case "watchNamespace": namespaceID = v
                        default: return false
                        }
                        return true
                    }
                    // A quoted "" is present and means every class; an empty plain value is null (absent).
                    if let ingressClass = string(classID, field: "ingressClass") {
                        spec.ingressClass = ingressClass
                        spec.ingressClassLocation = doc.location(classID)
                    }
                    spec.watchNamespace = string(namespaceID, field: "watchNamespace")
                }
            }
            within("global") {
                var aclID: NodeID = -1, tlsID: NodeID = -1
                forEachField(globalID, field: nil, context: "MseIngressConfig spec.global") { key, v in
                    switch key {
                    case "ipAccessControl": aclID = v
                    case "tls": tlsID = v
                    default: return false
                    }
                    return true
                }
                within("ipAccessControl") {
                    var whitelistID: NodeID = -1, blacklistID: NodeID = -1
                    forEachField(aclID, field: nil, context: "MseIngressConfig spec.global.ipAccessControl") { key, v in
                        switch key {
                        case "whitelist": whitelistID = v
                        case "blacklist": blacklistID = v
                        default: return false
                        }
                        return true
                    }
                    spec.ipWhitelist = stringList(whitelistID, field: "whitelist")
                    spec.ipBlacklist = stringList(blacklistID, field: "blacklist")
                }
                within("tls") {
                    var accelerationID: NodeID = -1
                    forEachField(tlsID, field: nil, context: "MseIngressConfig spec.global.tls") { key, v in
                        guard key == "enableHardwareAcceleration" else { return false }
                        accelerationID = v
                        return true
                    }
                    spec.enableHardwareAcceleration = bool(accelerationID, field: "enableHardwareAcceleration")
                }
            }
        }
        return MseIngressConfig(metadata: metadata, spec: spec, source: source)
    }

    /// Dotted paths of the leaves under `id` (scalars, sequences, empty mappings), in document order.
    private func listLeaves(_ id: NodeID, path: String, into out: inout [String]) {
        guard doc.kind(id) == .mapping, doc.count(id) > 0 else {
            out.append(path)
            return
        }
        doc.forEachPair(id) { k, v in
            listLeaves(v, path: path + "." + doc.string(k), into: &out)
        }
    }
}
