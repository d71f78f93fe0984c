import Foundation
import Manifests
import RouteModel
import Testing

/// Route test files: `Fixtures/routetests/invalid/<case>.routetest.yaml` with its expected first error
/// in `<case>.error.txt` (`RECORD_GOLDEN=1` rewrites them and still fails), plus decoding of every field.
struct RouteTestLoaderTests {
    static func invalidCases() -> [String] {
        let dir = Fixtures.root.appendingPathComponent("routetests/invalid")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasSuffix(".routetest.yaml") }.map { String($0.dropLast(".routetest.yaml".count)) }.sorted()
    }

    @Test(arguments: invalidCases())
    func rejectsWithALocatedError(_ name: String) throws {
        let path = "routetests/invalid/\(name).routetest.yaml"
        let (files, diagnostics) = RouteTestLoader.load([ManifestFile(path: path, bytes: try Fixtures.bytes(path))])
        let actual = diagnostics.errors.first?.description ?? "(no error)"
        #expect(files.allSatisfy { $0.tests.isEmpty }, "a test with an error must be left out")
        if ProcessInfo.processInfo.environment["RECORD_GOLDEN"] == "1" {
            let golden = Fixtures.sourceRoot.appendingPathComponent("routetests/invalid/\(name).error.txt")
            try (actual + "\n").write(to: golden, atomically: true, encoding: .utf8)
            Issue.record("recorded \(golden.lastPathComponent): \(actual) (unset RECORD_GOLDEN and review the diff)")
            return
        }
        let expected = try Fixtures.text("routetests/invalid/\(name).error.txt")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(actual == expected)
        #expect(actual.range(of: #"^routetests/invalid/[a-z-]+\.routetest\.yaml:\d+:\d+: error: "#, options: .regularExpression) != nil)
    }

    @Test func everyCaseHasAnExpectation() {
        let cases = Self.invalidCases()
        #expect(cases.count >= 15)
        for name in cases {
            let golden = Fixtures.root.appendingPathComponent("routetests/invalid/\(name).error.txt")
            #expect(FileManager.default.fileExists(atPath: golden.path), "missing \(name).error.txt")
        }
    }

    @Test func decodesEveryField() throws {
        let path = "routetests/valid.routetest.yaml"
        let (files, diagnostics) = RouteTestLoader.load([ManifestFile(path: path, bytes: try Fixtures.bytes(path))])
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        let tests = try #require(files.first?.tests)
        #expect(tests.count == 2)
        let full = tests[0]
        #expect(full.name == "full request")
        #expect(full.location == SourceLocation(file: path, line: 3, column: 5))
        #expect(full.request.method == "POST")
        #expect(full.request.host == "shop.example.com")
        #expect(full.request.path == "/api/orders?id=7")
        #expect(full.request.headers == ["x-canary": "true", "X-Version": "2"])
        #expect(full.request.cookies == ["session": "abc"])
        #expect(full.request.sourceIP == "192.0.2.10")
        #expect(full.expect.backend == "shop/api")
        #expect(full.expect.status == 200)
        #expect(full.expect.path == "/api/orders")
        #expect(full.expect.headers == ["location": "/x"])
        #expect(tests[1].request.method == "GET")
        #expect(tests[1].request.headers.isEmpty)
    }

    @Test func oneBadTestLeavesTheOthersLoaded() {
        let yaml = """
            tests:
              - name: good
                request: {host: a.example.com, path: /}
                expect: {status: 200}
              - name: bad
                request: {host: a.example.com, path: /}
                expect: {status: nope}
            """
        let (files, diagnostics) = RouteTestLoader.load([ManifestFile(path: "x.routetest.yml", bytes: Array(yaml.utf8))])
        #expect(files.first?.tests.map(\.name) == ["good"])
        #expect(
            diagnostics.errors.map(\.description) == [
                "x.routetest.yml:7:22: error: tests[1].expect.status: expected an integer, got string \"nope\""
            ])
    }

    @Test func duplicateNamesWarn() {
        let yaml = "tests:\n- {name: a, request: {host: h, path: /}, expect: {status: 200}}\n"
        let (_, diagnostics) = RouteTestLoader.load([
            ManifestFile(path: "a.routetest.yaml", bytes: Array(yaml.utf8)),
            ManifestFile(path: "b.routetest.yaml", bytes: Array(yaml.utf8)),
        ])
        #expect(
            diagnostics.map(\.description) == [
                "b.routetest.yaml:2:3: warning: duplicate test name \"a\" (first defined at a.routetest.yaml:2:3)"
            ])
    }

    @Test func routeTestFilesAreNotManifests() throws {
        let test = "tests:\n- {name: a, request: {host: h, path: /}, expect: {status: 200}}\n"
        let other = "tests:\n- {name: b, request: {host: h, path: /}, expect: {status: 200}}\n"
        let service = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
        let files = [
            ManifestFile(path: "a.routetest.yaml", bytes: Array(test.utf8)),
            ManifestFile(path: "b.routetest.yml", bytes: Array(other.utf8)),
            ManifestFile(path: "svc.yaml", bytes: Array(service.utf8)),
        ]
        let (set, diagnostics) = ManifestLoader.load(files)
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        #expect(set.objects.map(\.key.description) == ["Service/default/web"])
        let (testFiles, testDiagnostics) = RouteTestLoader.load(files)
        #expect(testDiagnostics.isEmpty)
        #expect(testFiles.map(\.path) == ["a.routetest.yaml", "b.routetest.yml"])
    }

    @Test func directoryListingIncludesRouteTestsOnlyWhenAsked() throws {
        let dir = NSTemporaryDirectory() + "gitway-rt-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: true)
        try "kind: x\n".write(toFile: dir + "/sub/a.yaml", atomically: true, encoding: .utf8)
        try "tests: []\n".write(toFile: dir + "/sub/a.routetest.yaml", atomically: true, encoding: .utf8)
        #expect(try ManifestLoader.files(inDirectory: dir).map(\.path) == ["sub/a.yaml"])
        #expect(
            try ManifestLoader.files(inDirectory: dir, includeRouteTests: true).map(\.path) == [
                "sub/a.routetest.yaml", "sub/a.yaml",
            ])
    }
}
