import Foundation
import Manifests
import Planner

/// Live state when no cluster is connected: the objects as last applied, durable under
/// `<state-dir>/cluster/`.
///
/// - `inventory.json`: every object (identity, revision that applied it, canonical document),
///   sorted by identity, so the same objects always give the same bytes.
/// - `metadata.json`: the applied revision and the commits marked bad.
///
/// Each mutation rewrites its file atomically (`DurableFile.write`), so a crash leaves the file as
/// it was before or after that one call; the transaction journal (`Applier`) makes a sequence of
/// calls all-or-nothing. A whole-file rewrite per object costs O(objects) per step, which is fine
/// for the hundreds of objects a routing repository holds and keeps every step atomic.
public final class EmbeddedStore: ClusterTarget, @unchecked Sendable {
    public let directory: String
    private let lock = NSLock()
    // Guarded by `lock`; changed only after the file write succeeded, so memory never runs ahead of disk.
    private var objects: [ObjectRef: LiveObject]
    private var meta: ClusterMetadata

    public static let format = "gitway.cluster/v1"

    /// Opens (or creates) the store in `directory`. A file that is unreadable, truncated or not
    /// this format throws `StoreError` rather than starting from an empty cluster, which would prune everything.
    public init(directory: String) throws {
        self.directory = directory
        try DurableFile.createDirectory(directory)
        objects = [:]
        meta = ClusterMetadata()
        if let bytes = try DurableFile.read(inventoryPath) {
            let file: InventoryFile
            do {
                file = try JSONDecoder().decode(InventoryFile.self, from: Data(bytes))
            } catch {
                throw StoreError(path: inventoryPath, reason: "not a valid inventory (\(Self.brief(error)))")
            }
            guard file.format == Self.format else {
                throw StoreError(path: inventoryPath, reason: "unknown format \"\(file.format)\" (expected \(Self.format))")
            }
            for object in file.objects {
                do {
                    _ = try object.decoded()
                } catch {
                    throw StoreError(path: inventoryPath, reason: "\(error)")
                }
                guard objects.updateValue(object, forKey: object.ref) == nil else {
                    throw StoreError(path: inventoryPath, reason: "\(object.ref) is listed twice")
                }
            }
        }
        if let bytes = try DurableFile.read(metadataPath) {
            do {
                meta = try Self.decoder.decode(ClusterMetadata.self, from: Data(bytes))
            } catch {
                throw StoreError(path: metadataPath, reason: "not valid metadata (\(Self.brief(error)))")
            }
        }
    }

    public var inventoryPath: String { directory + "/inventory.json" }
    public var metadataPath: String { directory + "/metadata.json" }

    public func list() throws -> [LiveObject] {
        lock.withLock { objects.values.sorted { $0.ref < $1.ref } }
    }

    public func get(_ ref: ObjectRef) throws -> LiveObject? {
        lock.withLock { objects[ref] }
    }

    public func apply(_ object: LiveObject) throws {
        try lock.withLock {
            var next = objects
            next[object.ref] = object
            try persist(next)
            objects = next
        }
    }

    public func delete(_ ref: ObjectRef) throws {
        try lock.withLock {
            guard objects[ref] != nil else { return }
            var next = objects
            next[ref] = nil
            try persist(next)
            objects = next
        }
    }

    public func metadata() throws -> ClusterMetadata {
        lock.withLock { meta }
    }

    public func writeMetadata(_ metadata: ClusterMetadata) throws {
        try lock.withLock {
            try DurableFile.write(try Self.encoder.encode(metadata).map { $0 } + [UInt8(ascii: "\n")], to: metadataPath)
            meta = metadata
        }
    }

    private func persist(_ next: [ObjectRef: LiveObject]) throws {
        let file = InventoryFile(format: Self.format, objects: next.values.sorted { $0.ref < $1.ref })
        try DurableFile.write([UInt8](try Self.encoder.encode(file)) + [UInt8(ascii: "\n")], to: inventoryPath)
    }

    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }

    static func brief(_ error: Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error { return context.debugDescription }
        if case DecodingError.keyNotFound(let key, _) = error { return "missing \"\(key.stringValue)\"" }
        if case DecodingError.typeMismatch(_, let context) = error { return context.debugDescription }
        if case DecodingError.valueNotFound(_, let context) = error { return context.debugDescription }
        return "\(error)"
    }

    /// The store's files cannot be used as they are. Not repaired automatically: an operator decides
    /// (restore a backup, or remove the directory to start from an empty cluster).
    public struct StoreError: Error, CustomStringConvertible, Equatable {
        public var path: String
        public var reason: String

        public var description: String { "\(path): error: cluster store is corrupt: \(reason)" }
    }
}

private struct InventoryFile: Codable {
    var format: String
    var objects: [LiveObject]
}

extension LiveObject {
    private enum CodingKeys: String, CodingKey {
        case group, kind, namespace, name, revision, document
    }

    // Flat identity fields and a base64 document keep the inventory greppable and compact.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ref = ObjectRef(
            group: try c.decode(String.self, forKey: .group), kind: try c.decode(String.self, forKey: .kind),
            namespace: try c.decode(String.self, forKey: .namespace), name: try c.decode(String.self, forKey: .name))
        revision = try c.decode(String.self, forKey: .revision)
        let text = try c.decode(String.self, forKey: .document)
        guard let data = Data(base64Encoded: text) else {
            throw DecodingError.dataCorruptedError(forKey: .document, in: c, debugDescription: "document of \(ref) is not base64")
        }
        document = [UInt8](data)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(ref.group, forKey: .group)
        try c.encode(ref.kind, forKey: .kind)
        try c.encode(ref.namespace, forKey: .namespace)
        try c.encode(ref.name, forKey: .name)
        try c.encode(revision, forKey: .revision)
        try c.encode(Data(document).base64EncodedString(), forKey: .document)
    }
}
