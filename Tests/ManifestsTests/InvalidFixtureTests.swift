import Foundation
import Manifests
import RouteModel
import Testing

/// Every rejection has a fixture `invalid/<case>.yaml` and its expected first error line in
/// `invalid/<case>.error.txt` (`file:line:column: error: message`).
/// `RECORD_GOLDEN=1 swift test` rewrites the .error.txt files from the actual output and still
/// fails, so that new baselines are reviewed before they are committed.
@Suite struct InvalidFixtureTests {
    @Test(arguments: Fixtures.invalidCases())
    func rejects(_ name: String) throws {
        let path = "invalid/\(name).yaml"
        let (_, diagnostics) = ManifestLoader.load([ManifestFile(path: path, bytes: try Fixtures.bytes(path))])
        let actual = diagnostics.errors.first?.description ?? "(no error)"
        if ProcessInfo.processInfo.environment["RECORD_GOLDEN"] == "1" {
            let golden = Fixtures.sourceRoot.appendingPathComponent("invalid/\(name).error.txt")
            try (actual + "\n").write(to: golden, atomically: true, encoding: .utf8)
            Issue.record("recorded \(golden.lastPathComponent): \(actual) (unset RECORD_GOLDEN and review the diff)")
            return
        }
        let expected = try Fixtures.text("invalid/\(name).error.txt").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(actual == expected)
    }

    @Test func everyCaseHasAnExpectation() throws {
        let cases = Fixtures.invalidCases()
        #expect(cases.count >= 40)
        for name in cases {
            let golden = Fixtures.root.appendingPathComponent("invalid/\(name).error.txt")
            #expect(FileManager.default.fileExists(atPath: golden.path), "missing \(name).error.txt")
        }
    }

    /// Rejections that need limits rather than a fixture.
    @Test func oversizedFileIsRefusedUnread() {
        let (set, diagnostics) = load(
            "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n", path: "big.yaml",
            limits: ManifestLimits(maxFileSize: 16))
        #expect(set.objects.isEmpty)
        #expect(
            diagnostics.errors.map(\.description) == [
                "big.yaml:1:1: error: file is 51 bytes, over the limit of 16 bytes"
            ])
    }

    @Test func tooManyDocuments() {
        let doc = "apiVersion: v1\nkind: Service\nmetadata: {name: web-%d}\n"
        let yaml = (0..<5).map { doc.replacingOccurrences(of: "%d", with: String($0)) }.joined(separator: "---\n")
        let (set, diagnostics) = load(yaml, path: "many.yaml", limits: ManifestLimits(maxDocumentsPerFile: 3))
        #expect(set.objects.count == 3)
        #expect(diagnostics.errors.map(\.description) == ["many.yaml:12:1: error: more than 3 documents in one file"])
    }

    @Test func tooManyDocumentsWithoutSplitting() {
        // A directive stops document splitting: the parser enforces the limit itself.
        let doc = "apiVersion: v1\nkind: Service\nmetadata: {name: web-%d}\n"
        let yaml =
            "%YAML 1.1\n---\n"
            + (0..<5).map { doc.replacingOccurrences(of: "%d", with: String($0)) }
            .joined(separator: "---\n")
        let (set, diagnostics) = load(yaml, path: "many.yaml", limits: ManifestLimits(maxDocumentsPerFile: 3))
        #expect(set.objects.count == 3)
        #expect(diagnostics.errors.map(\.description) == ["many.yaml:14:1: error: more than 3 documents in one file"])
    }

    @Test func aliasBudgetScalesWithTheDocument() {
        // About 1,000 written nodes allow 10,000 expanded ones: a large document may use anchors freely.
        var yaml =
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n  base: &b ["
            + Array(repeating: "x", count: 1_000).joined(separator: ", ") + "]\n"
        for i in 0..<9 { yaml += "  k\(i): *b\n" }
        let (set, diagnostics) = load(yaml, limits: ManifestLimits(maxAliasExpansion: 100))
        #expect(diagnostics.errors.isEmpty)
        #expect(set.objects.count == 1)
        let more = (9..<30).map { "  k\($0): *b\n" }.joined()
        let (_, tooMany) = load(yaml + more, limits: ManifestLimits(maxAliasExpansion: 100))
        #expect(tooMany.errors.first?.message == "alias expansion exceeds limit (possible billion-laughs document)")
    }
}
