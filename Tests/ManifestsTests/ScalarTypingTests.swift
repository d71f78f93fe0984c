import Manifests
import RouteModel
import Testing

/// YAML 1.1-looking scalars are typed by the field that reads them (see ScalarTyping.swift).
@Suite struct ScalarTypingTests {
    /// Plain scalars that YAML 1.1 would type, and the text a string field keeps.
    static let plainScalars: [(yaml: String, text: String)] = [
        ("on", "on"), ("yes", "yes"), ("no", "no"), ("off", "off"), ("y", "y"), ("0755", "0755"), ("1e3", "1e3"),
        ("0x1F", "0x1F"), ("true", "true"), ("False", "False"), ("1.0", "1.0"), ("80", "80"), (".inf", ".inf"),
        ("2024-01-01", "2024-01-01"), ("'quoted'", "quoted"), ("!!str null", "null"), ("\"\"", ""),
    ]

    private func ingress(annotation value: String, label: String = "x", host: String = "h") -> String {
        """
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: web
          labels: {l: \(label)}
          annotations:
            a: \(value)
        spec:
          rules:
          - host: \(host)
        """
    }

    @Test(arguments: plainScalars)
    func stringFieldsKeepTheLiteralText(yaml: String, text: String) throws {
        let (set, diagnostics) = load(ingress(annotation: yaml, label: yaml, host: yaml))
        #expect(diagnostics.isEmpty)
        let object = try #require(set.ingresses.first)
        #expect(object.metadata.annotations["a"] == text)
        #expect(object.metadata.labels["l"] == text)
        #expect(object.spec.rules.first?.host == text)
    }

    @Test(arguments: ["null", "~", "", "Null", "NULL", "!!null x"])
    func nullAnnotationValuesAreRejected(yaml: String) {
        let (set, diagnostics) = load(ingress(annotation: yaml))
        #expect(set.objects.isEmpty)
        #expect(
            diagnostics.errors.first?.message
                == "metadata.annotations[\"a\"]: annotation value must be a string, got null; quote it")
    }

    @Test(arguments: ["null", "~", ""])
    func nullInARequiredStringFieldIsMissing(yaml: String) {
        let (_, diagnostics) = load("apiVersion: v1\nkind: Service\nmetadata:\n  name: \(yaml)\n")
        #expect(
            diagnostics.errors.map(\.description) == [
                "test.yaml:4:3: error: missing required field \"name\" in metadata"
            ])
    }

    @Test func nullInAnOptionalStringFieldIsAbsent() throws {
        let (set, diagnostics) = load(ingress(annotation: "x", host: "~"))
        #expect(diagnostics.isEmpty)
        #expect(try #require(set.ingresses.first).spec.rules.first?.host == nil)
    }

    private func service(port: String, targetPort: String = "8080") -> String {
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports:\n"
            + "  - port: \(port)\n    targetPort: \(targetPort)\n"
    }

    @Test(arguments: [("80", 80), ("+80", 80), ("65535", 65535), ("1", 1), ("!!int 443", 443)])
    func integerFieldsTakePlainDecimals(yaml: String, value: Int) throws {
        let (set, diagnostics) = load(service(port: yaml))
        #expect(diagnostics.isEmpty)
        #expect(try #require(set.services.first).ports.first?.port == value)
    }

    @Test(arguments: [
        ("\"80\"", "spec.ports[0].port: expected an integer, got string \"80\""),
        ("'80'", "spec.ports[0].port: expected an integer, got string \"80\""),
        ("!!str 80", "spec.ports[0].port: expected an integer, got string \"80\""),
        (
            "0755",
            "spec.ports[0].port: expected a decimal integer, got \"0755\" (YAML 1.1 and 1.2 read it differently; "
                + "write a plain decimal)"
        ),
        (
            "1e3",
            "spec.ports[0].port: expected a decimal integer, got \"1e3\" (YAML 1.1 and 1.2 read it differently; "
                + "write a plain decimal)"
        ),
        (
            "0x1F",
            "spec.ports[0].port: expected a decimal integer, got \"0x1F\" (YAML 1.1 and 1.2 read it differently; "
                + "write a plain decimal)"
        ),
        (
            "80.0",
            "spec.ports[0].port: expected a decimal integer, got \"80.0\" (YAML 1.1 and 1.2 read it differently; "
                + "write a plain decimal)"
        ),
        ("http", "spec.ports[0].port: expected an integer, got string \"http\""),
        ("true", "spec.ports[0].port: expected an integer, got boolean true"),
        ("[80]", "spec.ports[0].port: expected an integer, got a sequence"),
        ("99999999999999999999", "spec.ports[0].port: integer 99999999999999999999 is too large"),
        ("-1", "spec.ports[0].port: port -1 is out of range 1-65535"),
        ("~", "missing required field \"port\" in spec.ports[0]"),
    ])
    func integerFieldsRejectEverythingElse(yaml: String, message: String) {
        let (set, diagnostics) = load(service(port: yaml))
        #expect(set.objects.isEmpty)
        #expect(diagnostics.errors.first?.message == message)
    }

    @Test(arguments: [
        ("8080", IntOrString.int(8080)), ("http", .string("http")), ("\"8080\"", .string("8080")),
        ("'http'", .string("http")), ("!!str 8080", .string("8080")),
    ])
    func intOrStringFollowsTheQuotes(yaml: String, value: IntOrString) throws {
        let (set, diagnostics) = load(service(port: "80", targetPort: yaml))
        #expect(diagnostics.isEmpty)
        #expect(try #require(set.services.first).ports.first?.targetPort == value)
    }

    @Test func intOrStringRejectsAmbiguousNumbers() {
        let (_, diagnostics) = load(service(port: "80", targetPort: "0x50"))
        #expect(
            diagnostics.errors.first?.message
                == "spec.ports[0].targetPort: expected a decimal integer or a name, got \"0x50\" "
                + "(YAML 1.1 and 1.2 read it differently; write a plain decimal, or quote it for a name)")
    }

    private func mse(override value: String) -> String {
        "apiVersion: mse.alibabacloud.com/v1alpha1\nkind: MseIngressConfig\nmetadata: {name: gw}\n"
            + "spec:\n  override: \(value)\n"
    }

    @Test(arguments: [("true", true), ("false", false), ("True", true), ("FALSE", false), ("!!bool true", true)])
    func booleanFields(yaml: String, value: Bool) throws {
        let (set, diagnostics) = load(mse(override: yaml))
        #expect(diagnostics.isEmpty)
        #expect(try #require(set.mseIngressConfigs.first).spec.override == value)
    }

    @Test(arguments: [
        ("yes", true), ("on", true), ("ON", true), ("y", true), ("no", false), ("off", false), ("N", false),
    ])
    func yaml11BooleansAreReadWithAWarning(yaml: String, value: Bool) throws {
        let (set, diagnostics) = load(mse(override: yaml))
        #expect(diagnostics.errors.isEmpty)
        #expect(try #require(set.mseIngressConfigs.first).spec.override == value)
        #expect(
            diagnostics.map(\.description) == [
                "test.yaml:5:13: warning: spec.override: YAML 1.1 boolean '\(yaml)' read as \(value); write \(value)"
            ])
    }

    @Test(arguments: [
        ("\"true\"", "spec.override: expected a boolean, got string \"true\""),
        ("1", "spec.override: expected a boolean, got integer 1"),
        ("enabled", "spec.override: expected a boolean, got string \"enabled\""),
        ("{}", "spec.override: expected a boolean, got a mapping"),
    ])
    func booleanFieldsRejectEverythingElse(yaml: String, message: String) {
        let (set, diagnostics) = load(mse(override: yaml))
        #expect(set.objects.isEmpty)
        #expect(diagnostics.errors.first?.message == message)
    }

    @Test func nullBooleanIsAbsent() throws {
        let (set, diagnostics) = load(mse(override: "~"))
        #expect(diagnostics.isEmpty)
        #expect(try #require(set.mseIngressConfigs.first).spec.override == nil)
    }
}
