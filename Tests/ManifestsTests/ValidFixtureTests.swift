import Foundation
import Manifests
import RouteModel
import Testing

/// The `valid/` fixtures, loaded the way `gitway validate` does in directory mode.
@Suite struct ValidFixtureTests {
    let set: ManifestSet
    let diagnostics: [Diagnostic]

    init() throws {
        let files = try ManifestLoader.files(inDirectory: Fixtures.root.path, subdirectory: "valid")
        (set, diagnostics) = ManifestLoader.load(files)
    }

    private func loc(_ file: String, _ line: Int, _ column: Int) -> SourceLocation {
        SourceLocation(file: "valid/\(file)", line: line, column: column)
    }

    private func object(_ kind: String, _ namespace: String, _ name: String) -> KubernetesObject? {
        set.objects.first { $0.key == ObjectKey(kind: kind, namespace: namespace, name: name) }
    }

    @Test func directoryModeFindsManifestsOnly() throws {
        let files = try ManifestLoader.files(inDirectory: Fixtures.root.path, subdirectory: "valid")
        #expect(
            files.map(\.path) == [
                "valid/anchors.yaml", "valid/endpoints.yaml", "valid/ingress.yaml", "valid/ingressclass.yaml",
                "valid/list.yaml", "valid/mse.yaml", "valid/nested/deeper/service.yml", "valid/opaque.yaml",
                "valid/secret.yaml", "valid/service.yaml",
            ])
        #expect(throws: (any Error).self) {
            try ManifestLoader.files(inDirectory: Fixtures.root.path, subdirectory: "nope")
        }
    }

    @Test func loadsWithoutErrors() {
        #expect(diagnostics.errors.isEmpty, "\(diagnostics.errors)")
        #expect(set.objects.count == 19)
        // Path order, then document order.
        #expect(set.objects.map(\.source.file) == set.objects.map(\.source.file).sorted())
    }

    @Test func warningsAreExactlyTheExpectedOnes() {
        #expect(
            diagnostics.warnings.sorted().map(\.description) == [
                "valid/endpoints.yaml:25:12: warning: endpoints[1].conditions.ready: "
                    + "YAML 1.1 boolean 'no' read as false; write false",
                "valid/opaque.yaml:2:7: warning: kind Namespace (apiVersion v1) is not used by Gitway; kept as is",
                "valid/opaque.yaml:7:7: warning: kind Deployment (apiVersion apps/v1) is not used by Gitway; "
                    + "kept as is",
                "valid/opaque.yaml:17:7: warning: kind Service (apiVersion serving.knative.dev/v1) is not used "
                    + "by Gitway; kept as is",
            ])
    }

    @Test func ingressWithEveryFeature() throws {
        let ingress = try #require(set.ingresses.first { $0.source.file == "valid/ingress.yaml" })
        #expect(ingress.metadata.name == "shop")
        #expect(ingress.metadata.namespace == "shop")
        #expect(
            ingress.source
                == ObjectSource(
                    file: "valid/ingress.yaml", document: 0, location: loc("ingress.yaml", 2, 1)))
        #expect(ingress.metadata.location == loc("ingress.yaml", 5, 3))
        #expect(ingress.metadata.labels == ["app": "shop", "enabled": "on", "tier": "frontend"])
        #expect(
            ingress.metadata.annotations == [
                "mse.ingress.kubernetes.io/rewrite-target": "/$2",
                "nginx.ingress.kubernetes.io/use-regex": "true",
                "example.com/plain-true": "true",
                "example.com/on": "on",
                "example.com/yes": "yes",
                "example.com/octal": "0755",
                "example.com/float": "1e3",
                "example.com/empty": "",
                "example.com/multi-line": "first\nsecond\n",
            ])
        #expect(ingress.metadata.annotationLocations["example.com/octal"] == loc("ingress.yaml", 17, 24))
        #expect(ingress.metadata.annotationLocations.count == 9)

        let spec = ingress.spec
        #expect(spec.location == loc("ingress.yaml", 24, 3))
        #expect(spec.ingressClassName == "mse")
        #expect(spec.ingressClassNameLocation == loc("ingress.yaml", 24, 21))
        #expect(spec.defaultBackend?.service?.name == "fallback")
        #expect(spec.defaultBackend?.service?.port == .number(80))
        #expect(spec.defaultBackend?.location == loc("ingress.yaml", 26, 5))

        #expect(spec.tls.count == 2)
        #expect(spec.tls[0].hosts == ["shop.example.com", "www.shop.example.com"])
        #expect(spec.tls[0].secretName == "shop-tls")
        #expect(spec.tls[0].secretNameLocation == loc("ingress.yaml", 34, 17))
        #expect(spec.tls[0].location == loc("ingress.yaml", 31, 5))
        #expect(spec.tls[1] == IngressTLS(hosts: ["*.cdn.example.com"], location: loc("ingress.yaml", 35, 5)))

        #expect(spec.rules.count == 3)
        let rule = spec.rules[0]
        #expect(rule.host == "shop.example.com")
        #expect(rule.hostLocation == loc("ingress.yaml", 37, 11))
        #expect(rule.location == loc("ingress.yaml", 37, 5))
        let paths = try #require(rule.paths)
        #expect(paths.map(\.path) == ["/api/(v1|v2)/(.*)", "/static", "/healthz"])
        #expect(paths.map(\.pathType) == [.implementationSpecific, .prefix, .exact])
        #expect(paths[0].location == loc("ingress.yaml", 40, 9))
        #expect(paths[0].pathLocation == loc("ingress.yaml", 40, 15))
        #expect(paths[0].backend.location == loc("ingress.yaml", 43, 11))
        #expect(
            paths[0].backend.service
                == IngressServiceBackend(
                    name: "api", port: .number(8080), location: loc("ingress.yaml", 44, 13),
                    portLocation: loc("ingress.yaml", 46, 23)))
        #expect(paths[1].backend.service?.port == .name("http"))
        #expect(paths[2].backend.service == nil)
        #expect(
            paths[2].backend.resource
                == TypedLocalObjectReference(
                    apiGroup: "k8s.example.com", kind: "StorageBucket", name: "health-page"))

        // No host: every host. No path: allowed for ImplementationSpecific.
        #expect(spec.rules[1].host == nil)
        #expect(spec.rules[1].hostLocation == nil)
        #expect(spec.rules[1].paths?.first?.path == nil)
        #expect(spec.rules[1].paths?.first?.pathLocation == nil)
        #expect(spec.rules[1].paths?.first?.backend.service?.name == "catch-all")
        // No http: nil paths, not empty.
        #expect(spec.rules[2].host == "*.shop.example.com")
        #expect(spec.rules[2].paths == nil)
    }

    @Test func namespaceDefaultsAndDocumentIndices() throws {
        let other = try #require(set.ingresses.first { $0.metadata.namespace == "default" })
        #expect(other.metadata.name == "shop")
        #expect(other.source.document == 1)
        #expect(other.source.location == loc("ingress.yaml", 69, 1))
        #expect(other.spec.rules.first?.paths?.first?.pathLocation == loc("ingress.yaml", 78, 15))
        let secret = try #require(object("Secret", "shop", "basic-auth"))
        #expect(secret.source.document == 1)
    }

    @Test func ingressClasses() throws {
        let classes = set.ingressClasses
        #expect(classes.map(\.metadata.name) == ["mse", "nginx"])
        #expect(classes[0].metadata.namespace == "")
        #expect(classes[0].controller == "mse.alibabacloud.com/ingress")
        #expect(classes[0].metadata.annotations["ingressclass.kubernetes.io/is-default-class"] == "true")
        #expect(
            classes[0].parameters
                == IngressClassParameters(
                    apiGroup: "mse.alibabacloud.com", kind: "MseIngressConfig", name: "gateway",
                    location: loc("ingressclass.yaml", 10, 5)))
        #expect(classes[1].parameters?.apiGroup == nil)
        #expect(classes[1].parameters?.scope == "Namespace")
        #expect(classes[1].parameters?.namespace == "ingress-nginx")
    }

    @Test func services() throws {
        guard case .service(let api) = try #require(object("Service", "shop", "api")) else {
            Issue.record("not a Service")
            return
        }
        #expect(api.type == "ClusterIP")
        #expect(api.selector == ["app": "api"])
        #expect(
            api.ports == [
                ServicePort(name: "http", port: 8080, targetPort: .int(9090), location: loc("service.yaml", 10, 5)),
                ServicePort(
                    name: "metrics", port: 9100, targetPort: .string("metrics"), appProtocol: "http",
                    location: loc("service.yaml", 13, 5)),
                // Quoted: a port name, even if it looks like a number (as Kubernetes reads IntOrString).
                ServicePort(
                    name: "quoted-target", port: 9200, targetPort: .string("9201"),
                    location: loc("service.yaml", 18, 5)),
            ])
        guard case .service(let external) = try #require(object("Service", "shop", "static")) else { return }
        #expect(external.type == "ExternalName")
        #expect(external.externalName == "static.cdn.example.com")
        #expect(external.ports.first?.protocol == "UDP")
        #expect(object("Service", "shop", "nested") != nil)
    }

    @Test func endpointSlicesAndEndpoints() throws {
        let slice = try #require(set.endpointSlices.first)
        #expect(slice.serviceName == "api")
        #expect(slice.addressType == "IPv4")
        #expect(slice.ports == [EndpointPort(name: "http", port: 9090), EndpointPort(name: "metrics")])
        #expect(slice.endpoints.map(\.addresses) == [["10.0.0.1"], ["10.0.0.2"], ["10.0.0.3"]])
        #expect(
            slice.endpoints[0]
                == SliceEndpoint(
                    addresses: ["10.0.0.1"], ready: true, serving: true, terminating: false, zone: "cn-hangzhou-h",
                    nodeName: "node-a", location: loc("endpoints.yaml", 15, 3)))
        #expect(slice.endpoints[1].ready == false)
        #expect(slice.endpoints[2].ready == nil)
        let legacy = try #require(set.endpoints.first)
        #expect(
            legacy.subsets == [
                EndpointSubset(
                    addresses: ["10.1.0.1", "10.1.0.2"], notReadyAddresses: ["10.1.0.3"],
                    ports: [EndpointPort(name: "http", port: 8080)])
            ])
    }

    @Test func secrets() throws {
        let tls = try #require(set.secrets.first { $0.metadata.name == "shop-tls" })
        #expect(tls.type == "kubernetes.io/tls")
        #expect(tls.data == ["tls.crt": Array("CERT".utf8), "tls.key": Array("KEY".utf8)])
        let basic = try #require(set.secrets.first { $0.metadata.name == "basic-auth" })
        #expect(basic.type == "Opaque")
        #expect(basic.data == ["auth": Array("override".utf8), "note": Array("plain text wins over data".utf8)])
    }

    @Test func mseIngressConfig() throws {
        let configs = set.mseIngressConfigs
        #expect(configs.map(\.metadata.name) == ["gateway", "unset-class"])
        let spec = configs[0].spec
        #expect(configs[0].metadata.namespace == "")
        #expect(spec.name == "mse-ingress")
        #expect(spec.id == "gw-0123456789")
        #expect(spec.override == true)
        // Present but empty: every class (distinct from absent).
        #expect(spec.ingressClass == "")
        #expect(spec.ingressClassLocation == loc("mse.yaml", 22, 21))
        #expect(spec.watchNamespace == "shop")
        #expect(spec.ipWhitelist == ["10.0.0.0/8", "192.168.1.1"])
        #expect(spec.ipBlacklist == ["203.0.113.7"])
        #expect(spec.enableHardwareAcceleration == false)
        #expect(
            spec.ignoredFields == [
                "common.pay.payType", "common.instance.spec", "common.instance.replicas", "common.network.vSwitches",
                "common.network.publicSLBSpec", "monitor.logging.sls", "monitor.tracing.xTrace.sampleRate",
            ])
        #expect(spec.location == loc("mse.yaml", 6, 3))
        // `ingressClass:` with no value is null: absent.
        #expect(configs[1].spec.ingressClass == nil)
        #expect(configs[1].spec.ingressClassLocation == nil)
    }

    @Test func listItemsAreObjects() throws {
        let service = try #require(object("Service", "listed", "web"))
        #expect(service.source.location == loc("list.yaml", 7, 3))
        #expect(service.source.document == 0)
        let ingress = try #require(object("Ingress", "listed", "web"))
        #expect(ingress.source.location == loc("list.yaml", 20, 3))
    }

    @Test func anchorsAndMergeKeys() throws {
        let ingress = try #require(set.ingresses.first { $0.metadata.name == "anchored" })
        #expect(ingress.metadata.labels == ["app": "shop", "team": "web"])
        #expect(ingress.metadata.annotations == ["app": "shop", "team": "platform"])
        let a = try #require(ingress.spec.rules[0].paths)
        #expect(a.map(\.path) == ["/", "/b"])
        #expect(a.map(\.pathType) == [.prefix, .prefix])
        #expect(a[1].backend.service?.name == "web")
        // The merged-in fields keep the anchor's locations; the override has its own.
        #expect(a[1].pathLocation == loc("anchors.yaml", 27, 15))
        let b = try #require(ingress.spec.rules[1].paths)
        #expect(b.map(\.path) == ["/", "/x"])
        #expect(b[1].backend.service?.port == .number(80))
        // An aliased node is located at the alias.
        #expect(b[0].location == loc("anchors.yaml", 31, 9))
    }

    @Test func opaqueObjects() throws {
        let namespace = try #require(object("Namespace", "", "shop"))
        guard case .opaque(let o) = namespace else {
            Issue.record("not opaque")
            return
        }
        #expect(o.apiVersion == "v1")
        #expect(object("Deployment", "shop", "web") != nil)
        #expect(object("Service", "shop", "hello")?.source.file == "valid/opaque.yaml")
    }
}
