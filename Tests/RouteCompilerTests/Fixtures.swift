import Manifests
import RouteModel

/// Small builders for typed objects, like Contour's `fixture.NewX().WithY()`: tests that are about
/// semantics, not YAML, build objects directly.
enum Fixture {
    static let here = SourceLocation(file: "test.yaml", line: 1, column: 1)

    static func source(_ file: String = "test.yaml") -> ObjectSource {
        ObjectSource(file: file, document: 0, location: SourceLocation(file: file, line: 1, column: 1))
    }

    static func path(_ type: PathType, _ path: String?, service: String, port: ServicePortReference = .number(80)) -> HTTPIngressPath {
        HTTPIngressPath(
            path: path, pathType: type,
            backend: IngressBackend(service: IngressServiceBackend(name: service, port: port, location: here), location: here),
            location: here, pathLocation: here)
    }

    static func ingress(
        _ name: String, namespace: String = "default", host: String? = nil, paths: [HTTPIngressPath],
        className: String? = nil, annotations: [String: String] = [:], defaultBackend: String? = nil
    ) -> Ingress {
        Ingress(
            metadata: ObjectMeta(name: name, namespace: namespace, annotations: annotations, location: here),
            spec: IngressSpec(
                ingressClassName: className,
                defaultBackend: defaultBackend.map {
                    IngressBackend(service: IngressServiceBackend(name: $0, port: .number(80), location: here), location: here)
                },
                rules: paths.isEmpty && defaultBackend != nil ? [] : [IngressRule(host: host, paths: paths, location: here)],
                location: here),
            source: source())
    }

    static func service(_ name: String, namespace: String = "default", port: Int = 80, portName: String? = nil) -> Service {
        Service(
            metadata: ObjectMeta(name: name, namespace: namespace, location: here),
            ports: [ServicePort(name: portName, port: port, location: here)], source: source())
    }
}
