import Dispatch
import Foundation
import RouteModel

/// One manifest file of a revision.
public struct ManifestFile: Sendable {
    /// Repository-relative, `/`-separated; used in every location.
    public var path: String
    public var bytes: [UInt8]

    public init(path: String, bytes: [UInt8]) {
        self.path = path
        self.bytes = bytes
    }
}

/// Bounds on untrusted input, so one hostile commit cannot take the agent down.
public struct ManifestLimits: Hashable, Sendable {
    /// Larger files are refused unread.
    public var maxFileSize: Int
    /// Nodes alias expansion may add to one document (or 10× its written nodes, if more).
    public var maxAliasExpansion: Int
    /// Maximum nesting of YAML collections.
    public var maxDepth: Int
    public var maxDocumentsPerFile: Int

    public init(
        maxFileSize: Int = 4 << 20, maxAliasExpansion: Int = 10_000, maxDepth: Int = 100,
        maxDocumentsPerFile: Int = 10_000
    ) {
        self.maxFileSize = maxFileSize
        self.maxAliasExpansion = maxAliasExpansion
        self.maxDepth = maxDepth
        self.maxDocumentsPerFile = maxDocumentsPerFile
    }

    public static let `default` = ManifestLimits()

    var yaml: YAMLLimits {
        YAMLLimits(maxAliasExpansion: maxAliasExpansion, maxDepth: maxDepth, maxDocuments: maxDocumentsPerFile)
    }
}

/// YAML files → typed objects (`ManifestSet`) and located diagnostics.
///
/// Each file is split into its documents at `---` lines (a document marker ends any scalar or
/// collection in YAML, so this is exact), and documents are parsed and decoded in parallel:
/// libyaml is the bottleneck, and manifests of a large repository are mostly one object each.
public enum ManifestLoader {
    /// Every file, every document, in path order. Invalid documents yield diagnostics and are left
    /// out; the rest still load. Route-test files (`*.routetest.yaml`) are not manifests and are skipped.
    public static func load(_ files: [ManifestFile], limits: ManifestLimits = .default) -> (ManifestSet, [Diagnostic]) {
        var diagnostics: [Diagnostic] = []
        let files = files.enumerated()
            .sorted {
                $0.element.path == $1.element.path
                    ? $0.offset < $1.offset : $0.element.path.utf8.lexicographicallyPrecedes($1.element.path.utf8)
            }
            .map(\.element)
            .filter { !isRouteTest($0.path) }

        // Units of work: one per document (or one per file that cannot be split).
        var units: [Unit] = []
        for (index, file) in files.enumerated() {
            if file.bytes.count > limits.maxFileSize {
                diagnostics.append(
                    .error(
                        "file is \(file.bytes.count) bytes, over the limit of \(limits.maxFileSize) bytes",
                        at: SourceLocation(file: file.path, line: 1, column: 1)))
                continue
            }
            let pieces = file.bytes.withUnsafeBufferPointer { splitDocuments($0) }
            guard let pieces else {
                units.append(Unit(file: index, range: 0..<file.bytes.count, lineOffset: 0, firstDocument: 0))
                continue
            }
            for piece in pieces {
                if piece.firstDocument >= limits.maxDocumentsPerFile {
                    diagnostics.append(
                        .error(
                            "more than \(limits.maxDocumentsPerFile) documents in one file",
                            at: SourceLocation(file: file.path, line: piece.lineOffset + 1, column: 1)))
                    break
                }
                let unit = Unit(
                    file: index, range: piece.range, lineOffset: piece.lineOffset, firstDocument: piece.firstDocument)
                units.append(unit)
            }
        }

        let results = run(units, files: files, limits: limits.yaml)

        // Merge in order, leaving out duplicate objects.
        var objects: [KubernetesObject] = []
        objects.reserveCapacity(results.reduce(0) { $0 + $1.objects.count })
        // Keyed by API group too: a Knative `Service` is not a v1 `Service`.
        var firstSeen: [GroupedKey: SourceLocation] = [:]
        for result in results {
            diagnostics.append(contentsOf: result.diagnostics)
            for object in result.objects {
                let key = GroupedKey(object)
                if let first = firstSeen[key] {
                    diagnostics.append(
                        .error(
                            "duplicate object \(key.key) (first defined at \(first))", at: object.source.location))
                    continue
                }
                firstSeen[key] = object.source.location
                objects.append(object)
            }
        }
        return (ManifestSet(objects: objects), diagnostics)
    }

    /// Every `*.yaml` / `*.yml` under `root/subdirectory`, recursively, sorted by path, with paths
    /// relative to `root`. Hidden files and directories (`.git`, `.github`) are skipped, and so are
    /// route-test files unless `includeRouteTests` (then `load` still skips them and
    /// `RouteTestLoader` reads them); symbolic links are not followed (a repository's content is its tree).
    public static func files(
        inDirectory root: String, subdirectory: String = "", includeRouteTests: Bool = false
    ) throws -> [ManifestFile] {
        let fm = FileManager.default
        let rootURL = URL(fileURLWithPath: root, isDirectory: true).standardizedFileURL
        let start = subdirectory.isEmpty ? rootURL : rootURL.appendingPathComponent(subdirectory, isDirectory: true)
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: start.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: start.path])
        }
        var relativePaths: [String] = []
        func walk(_ dir: URL, _ prefix: String) throws {
            for name in try fm.contentsOfDirectory(atPath: dir.path) where !name.hasPrefix(".") {
                let url = dir.appendingPathComponent(name)
                let rel = prefix.isEmpty ? name : prefix + "/" + name
                let values = try url.resourceValues(forKeys: [.isDirectoryKey, .isSymbolicLinkKey, .isRegularFileKey])
                if values.isSymbolicLink == true { continue }
                if values.isDirectory == true {
                    try walk(url, rel)
                } else if values.isRegularFile == true, isManifestName(name) || includeRouteTests && isRouteTest(name) {
                    relativePaths.append(rel)
                }
            }
        }
        let startPrefix = subdirectory.split(separator: "/").joined(separator: "/")
        try walk(start, startPrefix)
        relativePaths.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        return try relativePaths.map { rel in
            let data = try Data(contentsOf: rootURL.appendingPathComponent(rel))
            return ManifestFile(path: rel, bytes: [UInt8](data))
        }
    }

    static func isManifestName(_ name: String) -> Bool {
        (name.hasSuffix(".yaml") || name.hasSuffix(".yml")) && !isRouteTest(name)
    }

    static func isRouteTest(_ path: String) -> Bool {
        path.hasSuffix(".routetest.yaml") || path.hasSuffix(".routetest.yml")
    }

    // MARK: Splitting and running

    struct Unit {
        var file: Int
        var range: Range<Int>
        /// Lines of the file before `range`.
        var lineOffset: Int
        /// Index in the file of the first document in `range`.
        var firstDocument: Int
    }

    struct UnitResult {
        var objects: [KubernetesObject] = []
        var diagnostics: [Diagnostic] = []
    }

    struct Piece {
        var range: Range<Int>
        var lineOffset: Int
        var firstDocument: Int
    }

    /// The documents of a stream as byte ranges starting at `---` lines (the first one at 0), with
    /// the number of lines and documents before each. A range that starts with `---` holds exactly
    /// one document (libyaml requires `---` before every document but the first); the first range
    /// holds one if it has any content. Nil when splitting is not exact: directives (`%YAML`, `%TAG`)
    /// belong to the following document, and UTF-16/32 streams are not byte-scannable.
    static func splitDocuments(_ b: UnsafeBufferPointer<UInt8>) -> [Piece]? {
        let n = b.count
        if n >= 2, (b[0] == 0xFE && b[1] == 0xFF) || (b[0] == 0xFF && b[1] == 0xFE) || b[0] == 0 || b[1] == 0 {
            return nil
        }
        var pieces: [Piece] = []
        var pieceStart = 0
        var pieceLine = 0
        var line = 0
        var i = 0
        // Whether the first piece has content (not just blank lines, comments and a BOM).
        var firstHasContent = false
        let dash = UInt8(ascii: "-")
        while i < n {
            // `i` is at the start of a line.
            let c = b[i]
            if c == UInt8(ascii: "%") { return nil }
            if c == dash, i + 2 < n, b[i + 1] == dash, b[i + 2] == dash {
                let after = i + 3 < n ? b[i + 3] : UInt8(ascii: "\n")
                if after == UInt8(ascii: " ") || after == UInt8(ascii: "\t") || after == UInt8(ascii: "\n")
                    || after == UInt8(ascii: "\r"), i > 0
                {
                    let first = pieces.isEmpty ? 0 : pieces[pieces.count - 1].firstDocument + 1
                    pieces.append(Piece(range: pieceStart..<i, lineOffset: pieceLine, firstDocument: first))
                    pieceStart = i
                    pieceLine = line
                }
            }
            if pieces.isEmpty, !firstHasContent { firstHasContent = lineHasContent(b, from: i) }
            // Next line (memchr is vectorised: this scan costs next to nothing even for large files).
            guard let newline = memchr(b.baseAddress! + i, Int32(UInt8(ascii: "\n")), n - i) else { break }
            i = b.baseAddress!.distance(to: newline.assumingMemoryBound(to: UInt8.self)) + 1
            line += 1
        }
        let first = pieces.isEmpty ? 0 : pieces[pieces.count - 1].firstDocument + 1
        pieces.append(Piece(range: pieceStart..<n, lineOffset: pieceLine, firstDocument: first))
        if !firstHasContent {
            // The first piece holds no document: the numbering starts at the first `---`.
            for k in pieces.indices where k > 0 { pieces[k].firstDocument -= 1 }
        }
        return pieces
    }

    /// A line with something but blanks, a comment or a byte-order mark.
    private static func lineHasContent(_ b: UnsafeBufferPointer<UInt8>, from start: Int) -> Bool {
        var i = start
        if i == 0, b.count >= 3, b[0] == 0xEF, b[1] == 0xBB, b[2] == 0xBF { i = 3 }
        while i < b.count {
            switch b[i] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"): i += 1
            case UInt8(ascii: "\n"), UInt8(ascii: "#"): return false
            default: return true
            }
        }
        return false
    }

    /// Parses and decodes every unit, in parallel when there is enough work to share.
    static func run(_ units: [Unit], files: [ManifestFile], limits: YAMLLimits) -> [UnitResult] {
        let totalBytes = units.reduce(0) { $0 + $1.range.count }
        let workers = ProcessInfo.processInfo.activeProcessorCount
        if workers < 2 || units.count < 2 || totalBytes < 256 << 10 {
            return units.map { process($0, files: files, limits: limits, privatePath: false) }
        }
        // Contiguous batches, several per worker so uneven documents even out.
        let batches = min(units.count, workers * 8)
        var results = [UnitResult](repeating: UnitResult(), count: units.count)
        results.withUnsafeMutableBufferPointer { out in
            let out = SendableBuffer(base: out.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: batches) { batch in
                let lower = units.count * batch / batches
                let upper = units.count * (batch + 1) / batches
                for u in lower..<upper {
                    out.base[u] = process(units[u], files: files, limits: limits, privatePath: true)
                }
            }
        }
        return results
    }

    /// Each batch writes only its own slots.
    private struct SendableBuffer: @unchecked Sendable {
        let base: UnsafeMutablePointer<UnitResult>
    }

    static func process(_ unit: Unit, files: [ManifestFile], limits: YAMLLimits, privatePath: Bool) -> UnitResult {
        var result = UnitResult()
        let file = files[unit.file]
        // Every location holds the path: in parallel, a path string of its own per unit keeps the
        // threads from contending on one reference count.
        let path = privatePath ? String(decoding: Array(file.path.utf8), as: UTF8.self) : file.path
        file.bytes.withUnsafeBufferPointer { all in
            let slice = UnsafeBufferPointer(rebasing: all[unit.range])
            let parsed = YAMLParser.parse(
                slice, file: path, lineOffset: unit.lineOffset, firstDocument: unit.firstDocument, limits: limits
            ) { document in
                let decoder = ObjectDecoder(document: document)
                decoder.decodeDocument(into: &result.objects)
                result.diagnostics.append(contentsOf: decoder.diagnostics)
            }
            // Parse errors come after the documents that preceded them; keep file order.
            result.diagnostics.append(contentsOf: parsed.diagnostics)
        }
        return result
    }
}

/// An object's identity: API group, kind, namespace, name.
struct GroupedKey: Hashable {
    var group: String
    var key: ObjectKey

    init(_ object: KubernetesObject) {
        key = object.key
        if case .opaque(let o) = object {
            group = KnownKind.group(of: o.apiVersion)
        } else {
            group = KnownKind(rawValue: key.kind).map { KnownKind.group(of: $0.apiVersion) } ?? ""
        }
    }
}
