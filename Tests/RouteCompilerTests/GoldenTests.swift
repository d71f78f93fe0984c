import Foundation
import Manifests
import RouteCompiler
import RouteModel
import Testing

/// Golden directories: `Golden/<case>/input/*.yaml` → `route-table.json` (canonical) and
/// `diagnostics.txt`. Adding a case means adding a folder. Optional `ages.txt` holds lines
/// `Kind/namespace/name <age>` (smaller is older); optional `gateway.txt` a gateway name.
///
/// `RECORD_GOLDEN=1 swift test --filter GoldenTests` rewrites the baselines and still fails, so a
/// re-recorded baseline is always looked at before it is committed.
struct GoldenTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    static var cases: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    @Test(arguments: cases)
    func golden(_ name: String) throws {
        let dir = Self.root.appendingPathComponent(name)
        let input = dir.appendingPathComponent("input")
        let files = try FileManager.default.contentsOfDirectory(atPath: input.path).filter { $0.hasSuffix(".yaml") }.sorted()
            .map { ManifestFile(path: $0, bytes: Array(try Data(contentsOf: input.appendingPathComponent($0)))) }
        let (set, loadDiagnostics) = ManifestLoader.load(files)

        var options = CompileOptions(revision: "0000000000000000000000000000000000000000")
        if let ages = try? String(contentsOf: dir.appendingPathComponent("ages.txt"), encoding: .utf8) {
            for line in ages.split(separator: "\n") where !line.hasPrefix("#") {
                let parts = line.split(separator: " ")
                let id = parts[0].split(separator: "/").map(String.init)
                options.ages[ObjectKey(kind: id[0], namespace: id.count == 3 ? id[1] : "", name: id.last!)] = Int(parts[1])!
            }
        }
        if let gateway = try? String(contentsOf: dir.appendingPathComponent("gateway.txt"), encoding: .utf8) {
            options.gateway = gateway.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let result = RouteCompiler.compile(set, options: options)
        let diagnostics = (loadDiagnostics + result.diagnostics).sorted().map(\.description).joined(separator: "\n")

        try Self.compare(result.table.canonicalJSON(), with: dir.appendingPathComponent("route-table.json"))
        try Self.compare(diagnostics.isEmpty ? "" : diagnostics + "\n", with: dir.appendingPathComponent("diagnostics.txt"))
    }

    static func compare(_ actual: String, with file: URL) throws {
        let expected = try? String(contentsOf: file, encoding: .utf8)
        if ProcessInfo.processInfo.environment["RECORD_GOLDEN"] != nil || expected == nil {
            try actual.write(to: file, atomically: true, encoding: .utf8)
            Issue.record("recorded \(file.path); review it and run again without RECORD_GOLDEN")
            return
        }
        #expect(actual == expected, "\(file.lastPathComponent) differs; RECORD_GOLDEN=1 re-records it")
    }
}
