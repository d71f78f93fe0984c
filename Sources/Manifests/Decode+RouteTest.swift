import RouteModel

/// Route test files (`*.routetest.yaml` / `*.routetest.yml`): parsed here because this module owns
/// YAML; the values are `RouteModel` types so that `RouteTesting` runs them without importing YAML.
///
/// Decoding is stricter than for Kubernetes objects: an unknown field is an error, not a warning.
/// A misspelt `expect.backnd` would otherwise make a test check less than its author believes.
public enum RouteTestLoader {
    /// Whether a repository-relative path names a route test file.
    public static func isRouteTestFile(_ path: String) -> Bool { ManifestLoader.isRouteTest(path) }

    /// Decodes every route test file among `files` (other files are ignored), in path order.
    /// A test with an error is left out and reported; the other tests of its file still load.
    public static func load(
        _ files: [ManifestFile], limits: ManifestLimits = .default
    ) -> (files: [RouteTestFile], diagnostics: [Diagnostic]) {
        var out: [RouteTestFile] = []
        var diagnostics: [Diagnostic] = []
        let testFiles = files.filter { isRouteTestFile($0.path) }
            .sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        var firstName: [String: SourceLocation] = [:]
        for file in testFiles {
            if file.bytes.count > limits.maxFileSize {
                diagnostics.append(
                    .error(
                        "file is \(file.bytes.count) bytes, over the limit of \(limits.maxFileSize) bytes",
                        at: SourceLocation(file: file.path, line: 1, column: 1)))
                continue
            }
            let (documents, parseDiagnostics) = YAMLParser.parse(file.bytes, file: file.path, limits: limits.yaml)
            diagnostics += parseDiagnostics
            var tests: [RouteTestCase] = []
            for document in documents {
                let decoder = ObjectDecoder(document: document)
                tests += decoder.decodeRouteTests()
                diagnostics += decoder.diagnostics
            }
            // Names are how people and CI logs refer to tests: a repeated one is ambiguous.
            for test in tests {
                if let first = firstName[test.name] {
                    diagnostics.append(
                        .warning(
                            "duplicate test name \(ScalarTyping.quoted(test.name)) (first defined at \(first))",
                            at: test.location))
                } else {
                    firstName[test.name] = test.location
                }
            }
            out.append(RouteTestFile(path: file.path, tests: tests))
        }
        return (out, diagnostics)
    }
}

extension ObjectDecoder {
    /// The `tests` of one document.
    func decodeRouteTests() -> [RouteTestCase] {
        let root = doc.rootID
        guard let fields = strictFields(root, field: nil, context: "a route test file", known: ["tests"]) else {
            return []
        }
        let testsID = fields["tests"] ?? -1
        guard require(testsID, "tests", in: root) else { return [] }
        var tests: [RouteTestCase] = []
        forEachItem(testsID, field: "tests") { item in
            let before = errorCount
            let test = decodeRouteTest(item)
            if let test, errorCount == before { tests.append(test) }
        }
        return tests
    }

    private func decodeRouteTest(_ id: NodeID) -> RouteTestCase? {
        guard let fields = strictFields(id, field: nil, context: "a test", known: ["name", "request", "expect"]) else {
            return nil
        }
        let nameID = fields["name"] ?? -1
        let requestID = fields["request"] ?? -1
        let expectID = fields["expect"] ?? -1
        let name = string(nameID, field: "name")
        if name == nil { require(nameID, "name", in: id) }
        if name?.isEmpty == true { error(prefixed("test name must not be empty", field: "name"), at: nameID) }
        let request = require(requestID, "request", in: id) ? within("request") { decodeRequest(requestID) } : nil
        let expect = require(expectID, "expect", in: id) ? within("expect") { decodeExpectation(expectID) } : nil
        guard let name, let request, let expect else { return nil }
        return RouteTestCase(name: name, request: request, expect: expect, location: doc.location(id))
    }

    private func decodeRequest(_ id: NodeID) -> RouteTestRequest? {
        let known: Set<String> = ["method", "host", "path", "headers", "cookies", "sourceIP"]
        guard let fields = strictFields(id, field: nil, context: "request", known: known) else { return nil }
        let methodID = fields["method"] ?? -1
        let hostID = fields["host"] ?? -1
        let pathID = fields["path"] ?? -1
        var method = "GET"
        if let m = string(methodID, field: "method") {
            if m.isEmpty || m.contains(where: { $0 == " " || $0 == "\t" }) {
                error(prefixed("method must be one word such as GET, got \(ScalarTyping.quoted(m))", field: "method"), at: methodID)
            }
            method = m.uppercased()
        }
        let host = string(hostID, field: "host")
        if host == nil { require(hostID, "host", in: id) }
        if host?.isEmpty == true { error(prefixed("host must not be empty", field: "host"), at: hostID) }
        let path = string(pathID, field: "path")
        if path == nil { require(pathID, "path", in: id) }
        if let path, !path.hasPrefix("/") {
            error(prefixed("path must start with /, got \(ScalarTyping.quoted(path))", field: "path"), at: pathID)
        }
        let headers = stringMap(fields["headers"] ?? -1, field: "headers", what: "header").values
        let cookies = stringMap(fields["cookies"] ?? -1, field: "cookies", what: "cookie").values
        let sourceIP = string(fields["sourceIP"] ?? -1, field: "sourceIP")
        guard let host, let path else { return nil }
        return RouteTestRequest(
            method: method, host: host, path: path, headers: headers, cookies: cookies, sourceIP: sourceIP,
            location: doc.location(id))
    }

    private func decodeExpectation(_ id: NodeID) -> RouteTestExpectation? {
        let known: Set<String> = ["backend", "status", "path", "headers"]
        let errorsBefore = errorCount
        guard let fields = strictFields(id, field: nil, context: "expect", known: known) else { return nil }
        let backendID = fields["backend"] ?? -1
        let statusID = fields["status"] ?? -1
        let pathID = fields["path"] ?? -1
        let backend = string(backendID, field: "backend")
        if backend?.isEmpty == true { error(prefixed("backend must not be empty", field: "backend"), at: backendID) }
        let status = int(statusID, field: "status")
        if let status, !(100...599).contains(status) {
            error(prefixed("status \(status) is not an HTTP status (100-599)", field: "status"), at: statusID)
        }
        let path = string(pathID, field: "path")
        if let path, !path.hasPrefix("/") {
            error(prefixed("path must start with /, got \(ScalarTyping.quoted(path))", field: "path"), at: pathID)
        }
        let headers = stringMap(fields["headers"] ?? -1, field: "headers", what: "header").values
        let expectation = RouteTestExpectation(
            backend: backend, status: status, path: path, headers: headers, location: doc.location(id))
        // An empty expectation always passes: almost certainly a mistake.
        if expectation.isEmpty, errorCount == errorsBefore {
            error(prefixed("must check at least one of backend, status, path, headers", field: nil), at: id)
        }
        return expectation
    }

    /// The entries of a mapping by key. Unknown keys are errors located at the key (a typo must not
    /// silently weaken a test). Nil, after reporting, when `id` is absent or not a mapping.
    private func strictFields(
        _ id: NodeID, field: String?, context: String, known: Set<String>
    ) -> [String: NodeID]? {
        guard id >= 0 else { return nil }
        guard doc.kind(id) == .mapping else {
            typeError(expected: "a mapping", id, field: field)
            return nil
        }
        var out: [String: NodeID] = [:]
        doc.forEachPair(id) { k, v in
            guard doc.kind(k) == .scalar else {
                error(prefixed("mapping keys must be strings", field: field), at: k)
                return
            }
            let key = doc.string(k)
            if known.contains(key) {
                out[key] = v
            } else {
                let choices = known.sorted().joined(separator: ", ")
                error(
                    prefixed("unknown field \(ScalarTyping.quoted(key)) in \(context) (known: \(choices))", field: nil),
                    at: k)
            }
        }
        return out
    }
}
