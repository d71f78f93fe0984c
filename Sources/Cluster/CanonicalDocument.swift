import Foundation
import Manifests
import Planner

/// The bytes live state keeps for an object: the typed model as JSON with sorted keys, so equal
/// objects give equal bytes and a before-image restores byte for byte.
///
/// This is the embedded store's own format (it holds everything the model knows, source locations
/// included); a Kubernetes API target renders objects in the API's shape instead.
public enum CanonicalDocument {
    public struct DecodeError: Error, CustomStringConvertible {
        public var ref: ObjectRef?
        public var reason: String

        public var description: String {
            "stored document\(ref.map { " of \($0)" } ?? "") does not decode: \(reason)"
        }
    }

    public static func encode(_ object: KubernetesObject) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Plain structs of strings, numbers, booleans and byte arrays always encode.
        return [UInt8](try! encoder.encode(object))
    }

    /// Decodes a document and checks that it is the object it is stored as.
    public static func decode(_ bytes: [UInt8], expecting ref: ObjectRef? = nil) throws -> KubernetesObject {
        let object: KubernetesObject
        do {
            object = try JSONDecoder().decode(KubernetesObject.self, from: Data(bytes))
        } catch {
            throw DecodeError(ref: ref, reason: "\(error)")
        }
        if let ref, Self.ref(of: object) != ref {
            throw DecodeError(ref: ref, reason: "it holds \(Self.ref(of: object))")
        }
        return object
    }

    /// The identity the planner gives the object.
    public static func ref(of object: KubernetesObject) -> ObjectRef {
        ObjectRef(group: object.apiGroup, kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name)
    }
}
