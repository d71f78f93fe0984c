import Foundation
import Manifests
import Planner
import RouteModel

/// One object as live state holds it: its identity, the canonical document last applied, and the
/// revision that applied it.
///
/// The document is opaque bytes to everything but `CanonicalDocument`, so a transaction can take a
/// before-image and put it back byte for byte, whatever the target.
public struct LiveObject: Sendable, Equatable, Codable {
    public var ref: ObjectRef
    /// `main@sha1:<hash>` (or the agent's label for the revision) that applied this object.
    public var revision: String
    /// `CanonicalDocument.encode` of the object.
    public var document: [UInt8]

    public init(ref: ObjectRef, revision: String, document: [UInt8]) {
        self.ref = ref
        self.revision = revision
        self.document = document
    }

    /// `object` as applied by `revision`.
    public init(_ object: KubernetesObject, revision: String) {
        self.init(ref: CanonicalDocument.ref(of: object), revision: revision, document: CanonicalDocument.encode(object))
    }

    public func decoded() throws -> KubernetesObject { try CanonicalDocument.decode(document, expecting: ref) }
}

/// What live state remembers besides objects: which revision it is, and which commits were proved bad.
public struct ClusterMetadata: Sendable, Equatable, Codable {
    public struct BadRevision: Sendable, Equatable, Codable {
        public var revision: String
        public var reason: String
        public var at: Date

        public init(revision: String, reason: String, at: Date) {
            self.revision = revision
            self.reason = reason
            self.at = at
        }
    }

    /// The revision the objects are (set when a transaction commits).
    public var appliedRevision: String?
    /// Commits that failed verification, newest last: never retried, so a bad commit cannot flap
    /// live state on every poll (Argo CD #5351); a newer commit is applied as usual.
    public var badRevisions: [BadRevision]

    public init(appliedRevision: String? = nil, badRevisions: [BadRevision] = []) {
        self.appliedRevision = appliedRevision
        self.badRevisions = badRevisions
    }

    /// At most this many bad commits are remembered; older ones cannot be the tip again short of a force-push.
    public static let badRevisionLimit = 100

    public func badRevision(_ revision: String) -> BadRevision? { badRevisions.last { $0.revision == revision } }

    public mutating func markBad(_ revision: String, reason: String, at: Date = Date()) {
        badRevisions.removeAll { $0.revision == revision }
        badRevisions.append(BadRevision(revision: revision, reason: reason, at: at))
        if badRevisions.count > Self.badRevisionLimit { badRevisions.removeFirst(badRevisions.count - Self.badRevisionLimit) }
    }
}

/// Where a transaction's objects live: the embedded store (`EmbeddedStore`, the default) or, later, a
/// Kubernetes API server. Every call is blocking; callers keep them off the cooperative thread pool
/// when it matters.
///
/// The contract a transaction needs: `apply` is create-or-replace with exactly the given document
/// (so applying a before-image restores it), `delete` of a missing object succeeds (so rollback and
/// recovery can be repeated), and each call is atomic on its own.
public protocol ClusterTarget: Sendable {
    /// Every managed object (the inventory), sorted by `ref`.
    func list() throws -> [LiveObject]
    func get(_ ref: ObjectRef) throws -> LiveObject?
    /// Creates or replaces the object.
    func apply(_ object: LiveObject) throws
    /// Deletes the object; deleting a missing object is not an error.
    func delete(_ ref: ObjectRef) throws
    func metadata() throws -> ClusterMetadata
    func writeMetadata(_ metadata: ClusterMetadata) throws
}

extension ClusterTarget {
    /// Puts an object back as a before-image says: the exact document, or absent.
    public func restore(_ ref: ObjectRef, to image: LiveObject?) throws {
        if let image { try apply(image) } else { try delete(ref) }
    }
}

extension PlanInput {
    /// Live state as the planner's input: the stored objects, decoded, and the table being served.
    public init(live objects: [LiveObject], revision: String, table: RouteTable) throws {
        self.init(revision: revision, manifests: ManifestSet(objects: try objects.map { try $0.decoded() }), table: table)
    }
}
