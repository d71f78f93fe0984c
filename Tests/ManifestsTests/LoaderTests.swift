import Foundation
import Manifests
import RouteModel
import Testing

@Suite struct LoaderTests {
    private func service(_ name: String, namespace: String? = nil) -> String {
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: \(name)\n" + (namespace.map { "  namespace: \($0)\n" } ?? "")
    }

    @Test func filesLoadInPathOrder() {
        let files = [
            ManifestFile(path: "b/z.yaml", bytes: Array(service("z").utf8)),
            ManifestFile(path: "a.yaml", bytes: Array(service("a").utf8)),
            ManifestFile(path: "b/c.yaml", bytes: Array(service("c").utf8)),
        ]
        let (set, diagnostics) = ManifestLoader.load(files)
        #expect(diagnostics.isEmpty)
        #expect(set.objects.map(\.metadata.name) == ["a", "c", "z"])
    }

    @Test func duplicateObjectsAcrossFiles() {
        let files = [
            ManifestFile(path: "b.yaml", bytes: Array(("# the second\n" + service("web")).utf8)),
            ManifestFile(path: "a.yaml", bytes: Array(service("web", namespace: "default").utf8)),
        ]
        let (set, diagnostics) = ManifestLoader.load(files)
        #expect(set.objects.map(\.source.file) == ["a.yaml"])
        #expect(
            diagnostics.map(\.description) == [
                "b.yaml:2:1: error: duplicate object Service/default/web (first defined at a.yaml:1:1)"
            ])
    }

    @Test func sameNameInOtherKindOrGroupIsNotADuplicate() {
        let knative = service("web").replacingOccurrences(of: "v1", with: "serving.knative.dev/v1")
        let yaml =
            service("web") + "---\n" + knative
            + "---\napiVersion: v1\nkind: Endpoints\nmetadata: {name: web}\n"
        let (set, diagnostics) = load(yaml)
        #expect(diagnostics.errors.isEmpty)
        #expect(set.objects.count == 3)
    }

    @Test func routeTestFilesAreNotManifests() {
        let files = [ManifestFile(path: "tests/shop.routetest.yaml", bytes: Array("tests: []\n".utf8))]
        let (set, diagnostics) = ManifestLoader.load(files)
        #expect(set.objects.isEmpty)
        #expect(diagnostics.isEmpty)
    }

    @Test func aBadDocumentDoesNotHideTheOthers() {
        let bad = "apiVersion: v1\nkind: Service\nmetadata: {}\n"
        let yaml = service("one") + "---\n" + bad + "---\n" + service("three")
        let (set, diagnostics) = load(yaml)
        #expect(set.objects.map(\.metadata.name) == ["one", "three"])
        #expect(set.objects.map(\.source.document) == [0, 2])
        #expect(
            diagnostics.map(\.description) == [
                "test.yaml:8:11: error: missing required field \"name\" in metadata"
            ])
    }

    @Test func aSyntaxErrorSpoilsOnlyItsDocument() {
        let broken = "apiVersion: v1\nkind: [Service\n"
        let yaml = "# header\n" + service("one") + "---\n" + broken + "---\n" + service("three")
        let (set, diagnostics) = load(yaml)
        #expect(set.objects.map(\.metadata.name) == ["one", "three"])
        #expect(set.objects.map(\.source.document) == [0, 2])
        #expect(set.objects.last?.source.location == SourceLocation(file: "test.yaml", line: 10, column: 1))
        #expect(
            diagnostics.map(\.description) == [
                "test.yaml:9:1: error: invalid YAML: did not find expected ',' or ']' "
                    + "(while parsing a flow sequence at line 8, column 7)"
            ])
    }

    @Test func everyProblemOfAnObjectIsReported() {
        let yaml = """
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata: {name: web}
            spec:
              rules:
              - host: [a]
                http:
                  paths:
                  - path: /
                    pathType: Regex
                    backend: {service: {name: web, port: {number: 0}}}
                  - hots: x
              tls: {}
            """
        let (set, diagnostics) = load(yaml)
        #expect(set.objects.isEmpty)
        #expect(
            diagnostics.map(\.description) == [
                "test.yaml:13:8: error: spec.tls: expected a sequence, got a mapping",
                "test.yaml:6:11: error: spec.rules[0].host: expected a string, got a sequence",
                "test.yaml:10:19: error: spec.rules[0].http.paths[0].pathType: unsupported value \"Regex\"; "
                    + "must be one of Exact, Prefix, ImplementationSpecific",
                "test.yaml:11:55: error: spec.rules[0].http.paths[0].backend.service.port.number: "
                    + "port 0 is out of range 1-65535",
                "test.yaml:12:9: warning: unknown field \"hots\" in Ingress path",
                "test.yaml:12:9: error: missing required field \"pathType\" in spec.rules[0].http.paths[1]",
                "test.yaml:12:9: error: missing required field \"backend\" in spec.rules[0].http.paths[1]",
            ])
    }

    @Test func unknownFieldsAreWarnings() throws {
        let yaml = """
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata: {name: web, colour: blue}
            spec:
              ingressClass: mse
              rules:
              - hots: a.example.com
            extra: 1
            """
        let (set, diagnostics) = load(yaml)
        #expect(set.ingresses.count == 1)
        #expect(
            diagnostics.map(\.description) == [
                "test.yaml:8:1: warning: unknown field \"extra\" in Ingress",
                "test.yaml:3:23: warning: unknown field \"colour\" in metadata",
                "test.yaml:5:3: warning: unknown field \"ingressClass\" in Ingress spec",
                "test.yaml:7:5: warning: unknown field \"hots\" in Ingress rule",
            ])
    }

    @Test func listItemsFailAlone() {
        let yaml = """
            apiVersion: v1
            kind: List
            items:
            - apiVersion: v1
              kind: Service
              metadata: {name: good}
            - apiVersion: v1
              kind: Service
              metadata: {name: Bad}
            """
        let (set, diagnostics) = load(yaml)
        #expect(set.objects.map(\.metadata.name) == ["good"])
        #expect(diagnostics.errors.count == 1)
        #expect(diagnostics.errors.first?.location == SourceLocation(file: "test.yaml", line: 9, column: 20))
    }

    @Test func clusterScopedKindsIgnoreNamespace() throws {
        let yaml = "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: mse, namespace: shop}\n"
        let (set, diagnostics) = load(yaml)
        #expect(set.ingressClasses.first?.metadata.namespace == "")
        #expect(
            diagnostics.map(\.description) == [
                "test.yaml:3:34: warning: IngressClass is cluster-scoped; metadata.namespace is ignored"
            ])
    }

    /// Big inputs are split into documents and decoded in parallel; the result must be the one a
    /// sequential parse gives: same objects, same document numbers, same line numbers.
    @Test func parallelLoadMatchesSequentialLoad() throws {
        var yaml = "# header comment\n"
        for i in 0..<3_000 {
            if i > 0 { yaml += i % 7 == 0 ? "--- # marker with a comment\n" : "---\n" }
            yaml += """
                apiVersion: networking.k8s.io/v1
                kind: Ingress
                metadata:
                  name: app-\(i)
                  annotations: {note: "line \(i)"}
                spec:
                  rules:
                  - host: app-\(i).example.com
                    http:
                      paths:
                      - path: /
                        pathType: Prefix
                        backend: {service: {name: web-\(i), port: {number: 80}}}

                """
            if i == 1_500 { yaml += "---\n# an empty document\n" }
        }
        let bytes = Array(yaml.utf8)
        #expect(bytes.count > 256 << 10)
        let (set, diagnostics) = ManifestLoader.load([ManifestFile(path: "big.yaml", bytes: bytes)])
        #expect(diagnostics.isEmpty)
        #expect(set.objects.count == 3_000)

        // The same stream, unsplittable (a directive) and so parsed sequentially by libyaml alone.
        let unsplittable = Array(("%YAML 1.1\n---\n" + yaml).utf8)
        let sequential = ManifestLoader.load([ManifestFile(path: "big.yaml", bytes: unsplittable)])
        #expect(sequential.1.isEmpty)
        let a = set.ingresses, b = sequential.0.ingresses
        #expect(a.count == b.count)
        for (x, y) in zip(a, b) {
            #expect(x.source.document == y.source.document)
            #expect(x.source.location.line + 2 == y.source.location.line)
            #expect(x.spec.rules[0].hostLocation!.line + 2 == y.spec.rules[0].hostLocation!.line)
        }
        #expect(a[1_501].source.document == 1_502)
        #expect(a[2_999].metadata.name == "app-2999")
    }

    @Test func directiveStreamsStillLoad() {
        let (set, diagnostics) = load("%YAML 1.1\n---\n" + service("web"))
        #expect(diagnostics.isEmpty)
        #expect(set.objects.first?.source.location == SourceLocation(file: "test.yaml", line: 3, column: 1))
    }

    @Test func documentMarkersInsideScalarsDoNotSplit() {
        // `---` that is not at the start of a line, or not followed by a space, is content.
        let yaml = service("web") + "  annotations:\n    a: |\n      ---\n    b: ----\n---\n" + service("api")
        let (set, diagnostics) = load(yaml)
        #expect(diagnostics.isEmpty)
        #expect(set.objects.first?.metadata.annotations == ["a": "---\n", "b": "----"])
        #expect(set.objects.count == 2)
    }
}
