import RouteModel

/// networking.k8s.io/v1 Ingress and IngressClass, with the API server's structural validation
/// (required fields, enums, one-of) but none of the meaning, which is the route compiler's.
extension ObjectDecoder {
    func decodeIngress(_ specID: NodeID, object: NodeID, metadata: ObjectMeta, source: ObjectSource) -> Ingress {
        var spec = IngressSpec(location: present(specID) ? doc.location(specID) : doc.location(object))
        within("spec") {
            var classID: NodeID = -1, defaultBackendID: NodeID = -1, tlsID: NodeID = -1, rulesID: NodeID = -1
            forEachField(specID, field: nil, context: "Ingress spec") { key, v in
                switch key {
                case "ingressClassName": classID = v
                case "defaultBackend": defaultBackendID = v
                case "tls": tlsID = v
                case "rules": rulesID = v
                default: return false
                }
                return true
            }
            if let name = string(classID, field: "ingressClassName") {
                spec.ingressClassName = name
                spec.ingressClassNameLocation = doc.location(classID)
            }
            if present(defaultBackendID) {
                spec.defaultBackend = within("defaultBackend") { decodeBackend(defaultBackendID) }
            }
            forEachItem(tlsID, field: "tls") { item in
                if let tls = decodeIngressTLS(item) { spec.tls.append(tls) }
            }
            if let count = sequence(rulesID, field: "rules")?.count { spec.rules.reserveCapacity(count) }
            forEachItem(rulesID, field: "rules") { item in
                if let rule = decodeIngressRule(item) { spec.rules.append(rule) }
            }
        }
        return Ingress(metadata: metadata, spec: spec, source: source)
    }

    private func decodeIngressTLS(_ id: NodeID) -> IngressTLS? {
        var hostsID: NodeID = -1, secretID: NodeID = -1
        let isMapping = forEachField(id, field: nil, context: "Ingress TLS") { key, v in
            switch key {
            case "hosts": hostsID = v
            case "secretName": secretID = v
            default: return false
            }
            return true
        }
        guard isMapping else { return nil }
        var tls = IngressTLS(hosts: stringList(hostsID, field: "hosts"), location: doc.location(id))
        if let name = string(secretID, field: "secretName") {
            tls.secretName = name
            tls.secretNameLocation = doc.location(secretID)
        }
        return tls
    }

    private func decodeIngressRule(_ id: NodeID) -> IngressRule? {
        var hostID: NodeID = -1, httpID: NodeID = -1
        let isMapping = forEachField(id, field: nil, context: "Ingress rule") { key, v in
            switch key {
            case "host": hostID = v
            case "http": httpID = v
            default: return false
            }
            return true
        }
        guard isMapping else { return nil }
        var rule = IngressRule(location: doc.location(id))
        if let host = string(hostID, field: "host") {
            rule.host = host
            rule.hostLocation = doc.location(hostID)
        }
        guard present(httpID) else { return rule }
        within("http") {
            var pathsID: NodeID = -1
            let isMapping = forEachField(httpID, field: nil, context: "Ingress rule http") { key, v in
                guard key == "paths" else { return false }
                pathsID = v
                return true
            }
            guard isMapping else { return }
            guard require(pathsID, "paths", in: httpID) else { return }
            var paths: [HTTPIngressPath] = []
            paths.reserveCapacity(doc.count(pathsID))
            forEachItem(pathsID, field: "paths") { item in
                if let path = decodeIngressPath(item) { paths.append(path) }
            }
            rule.paths = paths
        }
        return rule
    }

    private func decodeIngressPath(_ id: NodeID) -> HTTPIngressPath? {
        var pathID: NodeID = -1, typeID: NodeID = -1, backendID: NodeID = -1
        let isMapping = forEachField(id, field: nil, context: "Ingress path") { key, v in
            switch key {
            case "path": pathID = v
            case "pathType": typeID = v
            case "backend": backendID = v
            default: return false
            }
            return true
        }
        guard isMapping else { return nil }
        let path = string(pathID, field: "path")
        var pathType: PathType?
        if require(typeID, "pathType", in: id), let s = string(typeID, field: "pathType") {
            pathType = PathType(rawValue: s)
            if pathType == nil {
                let allowed = PathType.allCases.map(\.rawValue).joined(separator: ", ")
                let message = "unsupported value \(ScalarTyping.quoted(s)); must be one of \(allowed)"
                error(prefixed(message, field: "pathType"), at: typeID)
            }
        }
        var backend: IngressBackend?
        if require(backendID, "backend", in: id) {
            backend = within("backend") { decodeBackend(backendID) }
        }
        guard let pathType, let backend else { return nil }
        return HTTPIngressPath(
            path: path, pathType: pathType, backend: backend, location: doc.location(id),
            pathLocation: path == nil ? nil : doc.location(pathID))
    }

    /// An IngressBackend; the path already names it (`...backend` or `spec.defaultBackend`).
    private func decodeBackend(_ id: NodeID) -> IngressBackend? {
        var serviceID: NodeID = -1, resourceID: NodeID = -1
        let isMapping = forEachField(id, field: nil, context: "Ingress backend") { key, v in
            switch key {
            case "service": serviceID = v
            case "resource": resourceID = v
            default: return false
            }
            return true
        }
        guard isMapping else { return nil }
        switch (present(serviceID), present(resourceID)) {
        case (true, true):
            error(prefixed("set exactly one of service or resource, not both", field: nil), at: id)
            return nil
        case (false, false):
            let p = pathString()
            error("missing required field \"service\" (or \"resource\") in \(p)", at: id)
            return nil
        case (true, false):
            guard let service = within("service", { decodeServiceBackend(serviceID) }) else { return nil }
            return IngressBackend(service: service, location: doc.location(id))
        case (false, true):
            let resource = within("resource") {
                decodeResourceReference(resourceID, context: "Ingress resource backend")
            }
            guard let resource else { return nil }
            return IngressBackend(resource: resource, location: doc.location(id))
        }
    }

    private func decodeServiceBackend(_ id: NodeID) -> IngressServiceBackend? {
        var nameID: NodeID = -1, portID: NodeID = -1
        let isMapping = forEachField(id, field: nil, context: "Ingress service backend") { key, v in
            switch key {
            case "name": nameID = v
            case "port": portID = v
            default: return false
            }
            return true
        }
        guard isMapping else { return nil }
        let hasName = require(nameID, "name", in: id)
        let name = hasName ? string(nameID, field: "name") : nil
        guard require(portID, "port", in: id) else { return nil }
        var numberID: NodeID = -1, portNameID: NodeID = -1
        let portRef: ServicePortReference? = within("port") {
            let isMapping = forEachField(portID, field: nil, context: "Ingress service backend port") { key, v in
                switch key {
                case "number": numberID = v
                case "name": portNameID = v
                default: return false
                }
                return true
            }
            guard isMapping else { return nil }
            switch (present(numberID), present(portNameID)) {
            case (true, true):
                error(prefixed("set exactly one of number or name, not both", field: nil), at: portID)
                return nil
            case (false, false):
                error("missing required field \"number\" (or \"name\") in \(pathString())", at: portID)
                return nil
            case (true, false):
                return self.port(numberID, field: "number").map { .number($0) }
            case (false, true):
                return string(portNameID, field: "name").map { .name($0) }
            }
        }
        guard let name, let portRef else { return nil }
        return IngressServiceBackend(
            name: name, port: portRef, location: doc.location(id),
            portLocation: doc.location(present(numberID) ? numberID : portNameID))
    }

    /// A TypedLocalObjectReference (`apiGroup`, `kind`, `name`).
    private func decodeResourceReference(_ id: NodeID, context: String) -> TypedLocalObjectReference? {
        var groupID: NodeID = -1, kindID: NodeID = -1, nameID: NodeID = -1
        let isMapping = forEachField(id, field: nil, context: context) { key, v in
            switch key {
            case "apiGroup": groupID = v
            case "kind": kindID = v
            case "name": nameID = v
            default: return false
            }
            return true
        }
        guard isMapping else { return nil }
        let group = string(groupID, field: "apiGroup")
        let kind = require(kindID, "kind", in: id) ? string(kindID, field: "kind") : nil
        let name = require(nameID, "name", in: id) ? string(nameID, field: "name") : nil
        guard let kind, let name else { return nil }
        return TypedLocalObjectReference(apiGroup: group, kind: kind, name: name)
    }

    func decodeIngressClass(_ specID: NodeID, metadata: ObjectMeta, source: ObjectSource) -> IngressClass {
        var controller: String?
        var parameters: IngressClassParameters?
        within("spec") {
            var controllerID: NodeID = -1, parametersID: NodeID = -1
            forEachField(specID, field: nil, context: "IngressClass spec") { key, v in
                switch key {
                case "controller": controllerID = v
                case "parameters": parametersID = v
                default: return false
                }
                return true
            }
            controller = string(controllerID, field: "controller")
            if present(parametersID) {
                parameters = within("parameters") { decodeIngressClassParameters(parametersID) }
            }
        }
        return IngressClass(metadata: metadata, controller: controller, parameters: parameters, source: source)
    }

    private func decodeIngressClassParameters(_ id: NodeID) -> IngressClassParameters? {
        var groupID: NodeID = -1, kindID: NodeID = -1, nameID: NodeID = -1, scopeID: NodeID = -1
        var namespaceID: NodeID = -1
        let isMapping = forEachField(id, field: nil, context: "IngressClass parameters") { key, v in
            switch key {
            case "apiGroup": groupID = v
            case "kind": kindID = v
            case "name": nameID = v
            case "scope": scopeID = v
            case "namespace": namespaceID = v
            default: return false
            }
            return true
        }
        guard isMapping else { return nil }
        let group = string(groupID, field: "apiGroup")
        let kind = require(kindID, "kind", in: id) ? string(kindID, field: "kind") : nil
        let name = require(nameID, "name", in: id) ? string(nameID, field: "name") : nil
        let scope = enumString(scopeID, field: "scope", allowed: ["Cluster", "Namespace"])
        let namespace = string(namespaceID, field: "namespace")
        if scope == "Namespace", namespace == nil {
            error("missing required field \"namespace\" in \(pathString()) (scope is Namespace)", at: id)
        }
        if scope == "Cluster", namespace != nil {
            error(prefixed("namespace must not be set when scope is Cluster", field: "namespace"), at: namespaceID)
        }
        guard let kind, let name else { return nil }
        return IngressClassParameters(
            apiGroup: group, kind: kind, name: name, scope: scope, namespace: namespace, location: doc.location(id))
    }
}
