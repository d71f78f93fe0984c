import RouteModel

// Typed Kubernetes objects as written in the repository. These mirror the API schemas closely and
// carry the source location of the parts that diagnostics point at; they hold no defaults or
// meaning beyond what the schema says (that is the compiler's job).
//
// They are `Codable` so that the embedded cluster store (module `Cluster`) can keep an applied
// object as a canonical document and read it back as the same typed value, locations included.

/// `kind`, `namespace` and `name`: unique within a manifest set.
public struct ObjectKey: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public var kind: String
    /// Empty for cluster-scoped kinds (IngressClass, MseIngressConfig).
    public var namespace: String
    public var name: String

    public init(kind: String, namespace: String, name: String) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }

    /// `Kind/namespace/name`, or `Kind/name` for cluster-scoped objects.
    public var description: String { namespace.isEmpty ? "\(kind)/\(name)" : "\(kind)/\(namespace)/\(name)" }

    public static func < (a: ObjectKey, b: ObjectKey) -> Bool {
        (a.kind, a.namespace, a.name) < (b.kind, b.namespace, b.name)
    }
}

/// Where an object was read from.
public struct ObjectSource: Hashable, Sendable, Codable {
    /// Repository-relative path, `/`-separated.
    public var file: String
    /// 0-based index of the YAML document within the file.
    public var document: Int
    /// The start of the document's top-level mapping.
    public var location: SourceLocation

    public init(file: String, document: Int, location: SourceLocation) {
        self.file = file
        self.document = document
        self.location = location
    }
}

public struct ObjectMeta: Hashable, Sendable, Codable {
    public var name: String
    /// As written; `nil` when absent. The loader fills `default` for namespaced kinds in `namespace`.
    public var namespace: String
    public var labels: [String: String]
    public var annotations: [String: String]
    /// Location of each annotation's value, for located annotation diagnostics.
    public var annotationLocations: [String: SourceLocation]
    public var location: SourceLocation

    public init(
        name: String, namespace: String = "", labels: [String: String] = [:], annotations: [String: String] = [:],
        annotationLocations: [String: SourceLocation] = [:], location: SourceLocation
    ) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.annotations = annotations
        self.annotationLocations = annotationLocations
        self.location = location
    }
}

// MARK: - networking.k8s.io/v1

public struct Ingress: Hashable, Sendable, Codable {
    public var metadata: ObjectMeta
    public var spec: IngressSpec
    public var source: ObjectSource

    public init(metadata: ObjectMeta, spec: IngressSpec, source: ObjectSource) {
        self.metadata = metadata
        self.spec = spec
        self.source = source
    }
}

public struct IngressSpec: Hashable, Sendable, Codable {
    public var ingressClassName: String?
    public var defaultBackend: IngressBackend?
    public var tls: [IngressTLS]
    public var rules: [IngressRule]
    public var location: SourceLocation
    /// The `ingressClassName` scalar, when present.
    public var ingressClassNameLocation: SourceLocation?

    public init(
        ingressClassName: String? = nil, defaultBackend: IngressBackend? = nil, tls: [IngressTLS] = [],
        rules: [IngressRule] = [], location: SourceLocation, ingressClassNameLocation: SourceLocation? = nil
    ) {
        self.ingressClassName = ingressClassName
        self.defaultBackend = defaultBackend
        self.tls = tls
        self.rules = rules
        self.location = location
        self.ingressClassNameLocation = ingressClassNameLocation
    }
}

public struct IngressTLS: Hashable, Sendable, Codable {
    public var hosts: [String]
    public var secretName: String?
    public var location: SourceLocation
    /// The `secretName` scalar, when present.
    public var secretNameLocation: SourceLocation?

    public init(
        hosts: [String] = [], secretName: String? = nil, location: SourceLocation,
        secretNameLocation: SourceLocation? = nil
    ) {
        self.hosts = hosts
        self.secretName = secretName
        self.location = location
        self.secretNameLocation = secretNameLocation
    }
}

public struct IngressRule: Hashable, Sendable, Codable {
    /// `nil` when the rule has no host (matches every host).
    public var host: String?
    public var hostLocation: SourceLocation?
    /// `nil` when the rule has no `http` section.
    public var paths: [HTTPIngressPath]?
    public var location: SourceLocation

    public init(host: String? = nil, hostLocation: SourceLocation? = nil, paths: [HTTPIngressPath]? = nil, location: SourceLocation) {
        self.host = host
        self.hostLocation = hostLocation
        self.paths = paths
        self.location = location
    }
}

public enum PathType: String, Hashable, Sendable, CaseIterable, Codable {
    case exact = "Exact"
    case prefix = "Prefix"
    case implementationSpecific = "ImplementationSpecific"
}

public struct HTTPIngressPath: Hashable, Sendable, Codable {
    /// `nil` when absent (allowed only for ImplementationSpecific).
    public var path: String?
    public var pathType: PathType
    public var backend: IngressBackend
    public var location: SourceLocation
    public var pathLocation: SourceLocation?

    public init(path: String?, pathType: PathType, backend: IngressBackend, location: SourceLocation, pathLocation: SourceLocation? = nil) {
        self.path = path
        self.pathType = pathType
        self.backend = backend
        self.location = location
        self.pathLocation = pathLocation
    }
}

/// `service` xor `resource`; the decoder rejects both or neither.
public struct IngressBackend: Hashable, Sendable, Codable {
    public var service: IngressServiceBackend?
    public var resource: TypedLocalObjectReference?
    public var location: SourceLocation

    public init(service: IngressServiceBackend? = nil, resource: TypedLocalObjectReference? = nil, location: SourceLocation) {
        self.service = service
        self.resource = resource
        self.location = location
    }
}

public struct IngressServiceBackend: Hashable, Sendable, Codable {
    public var name: String
    public var port: ServicePortReference
    public var location: SourceLocation
    /// The `port.number` or `port.name` scalar.
    public var portLocation: SourceLocation?

    public init(
        name: String, port: ServicePortReference, location: SourceLocation, portLocation: SourceLocation? = nil
    ) {
        self.name = name
        self.port = port
        self.location = location
        self.portLocation = portLocation
    }
}

public enum ServicePortReference: Hashable, Sendable, CustomStringConvertible, Codable {
    case number(Int)
    case name(String)

    public var description: String {
        switch self {
        case .number(let n): return String(n)
        case .name(let s): return s
        }
    }
}

public struct TypedLocalObjectReference: Hashable, Sendable, Codable {
    public var apiGroup: String?
    public var kind: String
    public var name: String

    public init(apiGroup: String?, kind: String, name: String) {
        self.apiGroup = apiGroup
        self.kind = kind
        self.name = name
    }
}

public struct IngressClass: Hashable, Sendable, Codable {
    public var metadata: ObjectMeta
    public var controller: String?
    public var parameters: IngressClassParameters?
    public var source: ObjectSource

    public init(metadata: ObjectMeta, controller: String?, parameters: IngressClassParameters?, source: ObjectSource) {
        self.metadata = metadata
        self.controller = controller
        self.parameters = parameters
        self.source = source
    }
}

public struct IngressClassParameters: Hashable, Sendable, Codable {
    public var apiGroup: String?
    public var kind: String
    public var name: String
    /// `Cluster` or `Namespace`.
    public var scope: String?
    public var namespace: String?
    public var location: SourceLocation

    public init(apiGroup: String?, kind: String, name: String, scope: String? = nil, namespace: String? = nil, location: SourceLocation) {
        self.apiGroup = apiGroup
        self.kind = kind
        self.name = name
        self.scope = scope
        self.namespace = namespace
        self.location = location
    }
}

// MARK: - v1 Service, Endpoints, Secret; discovery.k8s.io/v1 EndpointSlice

public enum IntOrString: Hashable, Sendable, CustomStringConvertible, Codable {
    case int(Int)
    case string(String)

    public var description: String {
        switch self {
        case .int(let n): return String(n)
        case .string(let s): return s
        }
    }
}

public struct Service: Hashable, Sendable, Codable {
    public var metadata: ObjectMeta
    /// `ClusterIP` when absent.
    public var type: String
    public var ports: [ServicePort]
    public var selector: [String: String]
    public var externalName: String?
    public var source: ObjectSource

    public init(
        metadata: ObjectMeta, type: String = "ClusterIP", ports: [ServicePort] = [], selector: [String: String] = [:],
        externalName: String? = nil, source: ObjectSource
    ) {
        self.metadata = metadata
        self.type = type
        self.ports = ports
        self.selector = selector
        self.externalName = externalName
        self.source = source
    }
}

public struct ServicePort: Hashable, Sendable, Codable {
    public var name: String?
    public var port: Int
    public var targetPort: IntOrString?
    /// `TCP` when absent.
    public var `protocol`: String
    public var appProtocol: String?
    public var location: SourceLocation

    public init(
        name: String? = nil, port: Int, targetPort: IntOrString? = nil, protocol: String = "TCP", appProtocol: String? = nil,
        location: SourceLocation
    ) {
        self.name = name
        self.port = port
        self.targetPort = targetPort
        self.protocol = `protocol`
        self.appProtocol = appProtocol
        self.location = location
    }
}

public struct EndpointSlice: Hashable, Sendable, Codable {
    public var metadata: ObjectMeta
    /// `IPv4`, `IPv6` or `FQDN`.
    public var addressType: String
    public var endpoints: [SliceEndpoint]
    public var ports: [EndpointPort]
    public var source: ObjectSource

    /// The owning Service, from the `kubernetes.io/service-name` label.
    public var serviceName: String? { metadata.labels["kubernetes.io/service-name"] }

    public init(metadata: ObjectMeta, addressType: String, endpoints: [SliceEndpoint], ports: [EndpointPort], source: ObjectSource) {
        self.metadata = metadata
        self.addressType = addressType
        self.endpoints = endpoints
        self.ports = ports
        self.source = source
    }
}

public struct SliceEndpoint: Hashable, Sendable, Codable {
    public var addresses: [String]
    /// `conditions.ready`; `nil` means unknown, which consumers treat as ready.
    public var ready: Bool?
    public var serving: Bool?
    public var terminating: Bool?
    public var zone: String?
    public var nodeName: String?
    public var hostname: String?
    public var location: SourceLocation

    public init(
        addresses: [String], ready: Bool? = nil, serving: Bool? = nil, terminating: Bool? = nil, zone: String? = nil,
        nodeName: String? = nil, hostname: String? = nil, location: SourceLocation
    ) {
        self.addresses = addresses
        self.ready = ready
        self.serving = serving
        self.terminating = terminating
        self.zone = zone
        self.nodeName = nodeName
        self.hostname = hostname
        self.location = location
    }
}

public struct EndpointPort: Hashable, Sendable, Codable {
    public var name: String?
    public var port: Int?
    public var `protocol`: String
    public var appProtocol: String?

    public init(name: String? = nil, port: Int? = nil, protocol: String = "TCP", appProtocol: String? = nil) {
        self.name = name
        self.port = port
        self.protocol = `protocol`
        self.appProtocol = appProtocol
    }
}

/// Legacy v1 Endpoints.
public struct Endpoints: Hashable, Sendable, Codable {
    public var metadata: ObjectMeta
    public var subsets: [EndpointSubset]
    public var source: ObjectSource

    public init(metadata: ObjectMeta, subsets: [EndpointSubset], source: ObjectSource) {
        self.metadata = metadata
        self.subsets = subsets
        self.source = source
    }
}

public struct EndpointSubset: Hashable, Sendable, Codable {
    public var addresses: [String]
    public var notReadyAddresses: [String]
    public var ports: [EndpointPort]

    public init(addresses: [String] = [], notReadyAddresses: [String] = [], ports: [EndpointPort] = []) {
        self.addresses = addresses
        self.notReadyAddresses = notReadyAddresses
        self.ports = ports
    }
}

/// A v1 Secret. Values are kept decoded (base64 `data` and plain `stringData` merged) so the data
/// plane can load certificates; they are never printed.
public struct Secret: Hashable, Sendable, Codable {
    public var metadata: ObjectMeta
    /// `Opaque` when absent.
    public var type: String
    public var data: [String: [UInt8]]
    public var source: ObjectSource

    public init(metadata: ObjectMeta, type: String, data: [String: [UInt8]], source: ObjectSource) {
        self.metadata = metadata
        self.type = type
        self.data = data
        self.source = source
    }
}

// MARK: - mse.alibabacloud.com/v1alpha1

/// One MSE cloud-native gateway's configuration. Cluster-scoped.
public struct MseIngressConfig: Hashable, Sendable, Codable {
    public var metadata: ObjectMeta
    public var spec: MseIngressConfigSpec
    public var source: ObjectSource

    public init(metadata: ObjectMeta, spec: MseIngressConfigSpec, source: ObjectSource) {
        self.metadata = metadata
        self.spec = spec
        self.source = source
    }
}

public struct MseIngressConfigSpec: Hashable, Sendable, Codable {
    /// Gateway instance name (`spec.name`).
    public var name: String?
    /// Reused gateway id (`spec.id`).
    public var id: String?
    public var override: Bool?
    /// `spec.ingress.local.ingressClass`: `nil` = watch none, `""` = all, `nginx` = class nginx or none, else that class.
    public var ingressClass: String?
    public var ingressClassLocation: SourceLocation?
    /// `spec.ingress.local.watchNamespace`: `nil` or `""` = all namespaces.
    public var watchNamespace: String?
    /// `spec.global.ipAccessControl.whitelist` / `.blacklist`.
    public var ipWhitelist: [String]
    public var ipBlacklist: [String]
    public var enableHardwareAcceleration: Bool?
    /// Dotted paths of fields that are accepted but mean nothing to an embedded gateway
    /// (`common.instance.spec`, `monitor.logging.sls`, ...), for `validate --verbose`.
    public var ignoredFields: [String]
    public var location: SourceLocation

    public init(
        name: String? = nil, id: String? = nil, override: Bool? = nil, ingressClass: String? = nil,
        ingressClassLocation: SourceLocation? = nil, watchNamespace: String? = nil, ipWhitelist: [String] = [],
        ipBlacklist: [String] = [], enableHardwareAcceleration: Bool? = nil, ignoredFields: [String] = [],
        location: SourceLocation
    ) {
        self.name = name
        self.id = id
        self.override = override
        self.ingressClass = ingressClass
        self.ingressClassLocation = ingressClassLocation
        self.watchNamespace = watchNamespace
        self.ipWhitelist = ipWhitelist
        self.ipBlacklist = ipBlacklist
        self.enableHardwareAcceleration = enableHardwareAcceleration
        self.ignoredFields = ignoredFields
        self.location = location
    }
}

/// Any other kind: kept (so the planner can carry it) but not interpreted.
public struct OpaqueObject: Hashable, Sendable, Codable {
    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    public var source: ObjectSource

    public init(apiVersion: String, kind: String, metadata: ObjectMeta, source: ObjectSource) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.metadata = metadata
        self.source = source
    }
}

// MARK: - The set

public enum KubernetesObject: Hashable, Sendable, Codable {
    case ingress(Ingress)
    case ingressClass(IngressClass)
    case service(Service)
    case endpointSlice(EndpointSlice)
    case endpoints(Endpoints)
    case secret(Secret)
    case mseIngressConfig(MseIngressConfig)
    case opaque(OpaqueObject)

    public var metadata: ObjectMeta {
        switch self {
        case .ingress(let o): return o.metadata
        case .ingressClass(let o): return o.metadata
        case .service(let o): return o.metadata
        case .endpointSlice(let o): return o.metadata
        case .endpoints(let o): return o.metadata
        case .secret(let o): return o.metadata
        case .mseIngressConfig(let o): return o.metadata
        case .opaque(let o): return o.metadata
        }
    }

    public var source: ObjectSource {
        switch self {
        case .ingress(let o): return o.source
        case .ingressClass(let o): return o.source
        case .service(let o): return o.source
        case .endpointSlice(let o): return o.source
        case .endpoints(let o): return o.source
        case .secret(let o): return o.source
        case .mseIngressConfig(let o): return o.source
        case .opaque(let o): return o.source
        }
    }

    public var kind: String {
        switch self {
        case .ingress: return "Ingress"
        case .ingressClass: return "IngressClass"
        case .service: return "Service"
        case .endpointSlice: return "EndpointSlice"
        case .endpoints: return "Endpoints"
        case .secret: return "Secret"
        case .mseIngressConfig: return "MseIngressConfig"
        case .opaque(let o): return o.kind
        }
    }

    public var key: ObjectKey { ObjectKey(kind: kind, namespace: metadata.namespace, name: metadata.name) }

    /// The API group (`""` for the core group, `networking.k8s.io`, ...): with the key, an object's
    /// identity, since a Knative `Service` is not a v1 `Service`.
    public var apiGroup: String {
        if case .opaque(let o) = self { return KnownKind.group(of: o.apiVersion) }
        return KnownKind(rawValue: kind).map { KnownKind.group(of: $0.apiVersion) } ?? ""
    }

    /// `apiVersion` as written (typed kinds have exactly one supported version).
    public var apiVersion: String {
        if case .opaque(let o) = self { return o.apiVersion }
        return KnownKind(rawValue: kind)?.apiVersion ?? ""
    }
}

/// All objects of one revision, in file order (path, then document), each key at most once.
public struct ManifestSet: Sendable {
    public var objects: [KubernetesObject]

    public init(objects: [KubernetesObject] = []) { self.objects = objects }

    public var ingresses: [Ingress] { objects.compactMap { if case .ingress(let o) = $0 { return o } else { return nil } } }
    public var ingressClasses: [IngressClass] {
        objects.compactMap { if case .ingressClass(let o) = $0 { return o } else { return nil } }
    }
    public var services: [Service] { objects.compactMap { if case .service(let o) = $0 { return o } else { return nil } } }
    public var endpointSlices: [EndpointSlice] {
        objects.compactMap { if case .endpointSlice(let o) = $0 { return o } else { return nil } }
    }
    public var endpoints: [Endpoints] { objects.compactMap { if case .endpoints(let o) = $0 { return o } else { return nil } } }
    public var secrets: [Secret] { objects.compactMap { if case .secret(let o) = $0 { return o } else { return nil } } }
    public var mseIngressConfigs: [MseIngressConfig] {
        objects.compactMap { if case .mseIngressConfig(let o) = $0 { return o } else { return nil } }
    }
}
