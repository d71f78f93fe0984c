import Foundation
import Manifests
import RouteModel

/// Fixture access: read from the test bundle; golden files are rewritten in the source tree.
enum Fixtures {
    static var root: URL { Bundle.module.resourceURL!.appendingPathComponent("Fixtures") }
    static var sourceRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    }

    static func bytes(_ relativePath: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: root.appendingPathComponent(relativePath)))
    }

    static func text(_ relativePath: String) throws -> String {
        try String(decoding: bytes(relativePath), as: UTF8.self)
    }

    /// Names of the `invalid/<case>.yaml` fixtures, without extension.
    static func invalidCases() -> [String] {
        let dir = root.appendingPathComponent("invalid")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }.sorted()
    }
}

/// Loads YAML text given inline, as file `path`.
func load(
    _ yaml: String, path: String = "test.yaml", limits: ManifestLimits = .default
) -> (ManifestSet, [Diagnostic]) {
    ManifestLoader.load([ManifestFile(path: path, bytes: Array(yaml.utf8))], limits: limits)
}

extension Array where Element == Diagnostic {
    var warnings: [Diagnostic] { filter { $0.severity == .warning } }
}

/// `Testing` has a `SourceLocation` too; the tests mean Gitway's.
typealias SourceLocation = RouteModel.SourceLocation
