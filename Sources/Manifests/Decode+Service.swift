import RouteModel

/// v1 Service and Endpoints, discovery.k8s.io/v1 EndpointSlice: where backends are when no
/// cluster is connected. Fields Kubernetes defines but Gitway has no use for are accepted quietly.
extension ObjectDecoder {
    func decodeService(_ specID: NodeID, metadata: ObjectMeta, source: ObjectSource) -> Service {
        var service = Service(metadata: metadata, source: source)
        within("spec") {
            var typeID: NodeID = -1, portsID: NodeID = -1, selectorID: NodeID = -1, externalNameID: NodeID = -1
            forEachField(specID, field: nil, context: "Service spec") { key, v in
                switch key {
                case "type": typeID = v
                case "ports": portsID = v
                case "selector": selectorID = v
                case "externalName": externalNameID = v
                case "clusterIP", "clusterIPs", "externalIPs", "sessionAffinity", "sessionAffinityConfig",
                    "loadBalancerIP", "loadBalancerSourceRanges", "loadBalancerClass", "externalTrafficPolicy",
                    "internalTrafficPolicy", "healthCheckNodePort", "publishNotReadyAddresses", "ipFamilies",
                    "ipFamilyPolicy", "allocateLoadBalancerNodePorts", "trafficDistribution":
                    break
                default: return false
                }
                return true
            }
            let types = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]
            if let type = enumString(typeID, field: "type", allowed: types) { service.type = type }
            service.externalName = string(externalNameID, field: "externalName")
            if service.type == "ExternalName", service.externalName == nil {
                error("missing required field \"externalName\" in spec (type is ExternalName)", at: specID)
            }
            service.selector = stringMap(selectorID, field: "selector", what: "selector").values
            forEachItem(portsID, field: "ports") { item in
                if let port = decodeServicePort(item) { service.ports.append(port) }
            }
        }
        return service
    }

    private func decodeServicePort(_ id: NodeID) -> ServicePort? {
        var nameID: NodeID = -1, portID: NodeID = -1, targetID: NodeID = -1, protocolID: NodeID = -1
        var appProtocolID: NodeID = -1, nodePortID: NodeID = -1
        let isMapping = forEachField(id, field: nil, context: "Service port") { key, v in
            switch key {
            case "name": nameID = v
            case "port": portID = v
            case "targetPort": targetID = v
            case "protocol": protocolID = v
            case "appProtocol": appProtocolID = v
            case "nodePort": nodePortID = v
            default: return false
            }
            return true
        }
        guard isMapping else { return nil }
        let name = string(nameID, field: "name")
        let number = require(portID, "port", in: id) ? port(portID, field: "port") : nil
        var target = intOrString(targetID, field: "targetPort")
        switch target {
        case .int(let n) where !(1...65535).contains(n):
            error(prefixed("port \(n) is out of range 1-65535", field: "targetPort"), at: targetID)
            target = nil
        case .string(let s) where s.isEmpty:
            error(prefixed("a port name must not be empty", field: "targetPort"), at: targetID)
            target = nil
        default: break
        }
        _ = port(nodePortID, field: "nodePort")
        let proto = enumString(protocolID, field: "protocol", allowed: ["TCP", "UDP", "SCTP"]) ?? "TCP"
        let appProtocol = string(appProtocolID, field: "appProtocol")
        guard let number else { return nil }
        return ServicePort(
            name: name, port: number, targetPort: target, protocol: proto, appProtocol: appProtocol,
            location: doc.location(id))
    }

    /// A port of an EndpointSlice (`port` optional: absent means all ports) or of Endpoints (required).
    private func decodeEndpointPort(_ id: NodeID, portRequired: Bool) -> EndpointPort? {
        var nameID: NodeID = -1, portID: NodeID = -1, protocolID: NodeID = -1, appProtocolID: NodeID = -1
        let isMapping = forEachField(id, field: nil, context: "endpoint port") { key, v in
            switch key {
            case "name": nameID = v
            case "port": portID = v
            case "protocol": protocolID = v
            case "appProtocol": appProtocolID = v
            default: return false
            }
            return true
        }
        guard isMapping else { return nil }
        if portRequired { require(portID, "port", in: id) }
        return EndpointPort(
            name: string(nameID, field: "name"), port: port(portID, field: "port"),
            protocol: enumString(protocolID, field: "protocol", allowed: ["TCP", "UDP", "SCTP"]) ?? "TCP",
            appProtocol: string(appProtocolID, field: "appProtocol"))
    }

    func decodeEndpoints(_ subsetsID: NodeID, metadata: ObjectMeta, source: ObjectSource) -> Endpoints {
        var subsets: [EndpointSubset] = []
        forEachItem(subsetsID, field: "subsets") { item in
            var addressesID: NodeID = -1, notReadyID: NodeID = -1, portsID: NodeID = -1
            let isMapping = forEachField(item, field: nil, context: "Endpoints subset") { key, v in
                switch key {
                case "addresses": addressesID = v
                case "notReadyAddresses": notReadyID = v
                case "ports": portsID = v
                default: return false
                }
                return true
            }
            guard isMapping else { return }
            var subset = EndpointSubset()
            subset.addresses = endpointAddresses(addressesID, field: "addresses")
            subset.notReadyAddresses = endpointAddresses(notReadyID, field: "notReadyAddresses")
            forEachItem(portsID, field: "ports") { port in
                if let p = decodeEndpointPort(port, portRequired: true) { subset.ports.append(p) }
            }
            subsets.append(subset)
        }
        return Endpoints(metadata: metadata, subsets: subsets, source: source)
    }

    /// The `ip` of each EndpointAddress.
    private func endpointAddresses(_ id: NodeID, field: String) -> [String] {
        var out: [String] = []
        forEachItem(id, field: field) { item in
            var ipID: NodeID = -1
            let isMapping = forEachField(item, field: nil, context: "endpoint address") { key, v in
                switch key {
                case "ip": ipID = v
                case "hostname", "nodeName", "targetRef": break
                default: return false
                }
                return true
            }
            guard isMapping else { return }
            if require(ipID, "ip", in: item), let ip = string(ipID, field: "ip") { out.append(ip) }
        }
        return out
    }

    func decodeEndpointSlice(
        _ f: TopLevelFields, object: NodeID, metadata: ObjectMeta, source: ObjectSource
    ) -> EndpointSlice {
        var addressType = ""
        if require(f.addressType, "addressType", in: object),
            let t = enumString(f.addressType, field: "addressType", allowed: ["IPv4", "IPv6", "FQDN"])
        {
            addressType = t
        }
        var endpoints: [SliceEndpoint] = []
        forEachItem(f.endpoints, field: "endpoints") { item in
            if let e = decodeSliceEndpoint(item) { endpoints.append(e) }
        }
        var ports: [EndpointPort] = []
        forEachItem(f.ports, field: "ports") { item in
            if let p = decodeEndpointPort(item, portRequired: false) { ports.append(p) }
        }
        return EndpointSlice(
            metadata: metadata, addressType: addressType, endpoints: endpoints, ports: ports, source: source)
    }

    private func decodeSliceEndpoint(_ id: NodeID) -> SliceEndpoint? {
        var addressesID: NodeID = -1, conditionsID: NodeID = -1, hostnameID: NodeID = -1
        var nodeNameID: NodeID = -1, zoneID: NodeID = -1
        let isMapping = forEachField(id, field: nil, context: "EndpointSlice endpoint") { key, v in
            switch key {
            case "addresses": addressesID = v
            case "conditions": conditionsID = v
            case "hostname": hostnameID = v
            case "nodeName": nodeNameID = v
            case "zone": zoneID = v
            case "targetRef", "hints", "deprecatedTopology": break
            default: return false
            }
            return true
        }
        guard isMapping else { return nil }
        var endpoint = SliceEndpoint(addresses: [], location: doc.location(id))
        if require(addressesID, "addresses", in: id) {
            endpoint.addresses = stringList(addressesID, field: "addresses")
        }
        within("conditions") {
            var readyID: NodeID = -1, servingID: NodeID = -1, terminatingID: NodeID = -1
            forEachField(conditionsID, field: nil, context: "EndpointSlice endpoint conditions") { key, v in
                switch key {
                case "ready": readyID = v
                case "serving": servingID = v
                case "terminating": terminatingID = v
                default: return false
                }
                return true
            }
            endpoint.ready = bool(readyID, field: "ready")
            endpoint.serving = bool(servingID, field: "serving")
            endpoint.terminating = bool(terminatingID, field: "terminating")
        }
        endpoint.hostname = string(hostnameID, field: "hostname")
        endpoint.nodeName = string(nodeNameID, field: "nodeName")
        endpoint.zone = string(zoneID, field: "zone")
        return endpoint
    }
}
