import Cluster
import Foundation
import Manifests
import Planner
import RouteModel
import Testing

struct EmbeddedStoreTests {
    static let yaml = """
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: shop, labels: {app: web}}
        spec: {ports: [{name: http, port: 80, targetPort: 8080}]}
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: tls, namespace: shop}
        type: kubernetes.io/tls
        data: {tls.crt: Y2VydA==, tls.key: a2V5}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: shop, namespace: shop, annotations: {a: b}}
        spec:
          ingressClassName: mse
          tls: [{hosts: [shop.example.com], secretName: tls}]
          rules:
          - host: shop.example.com
            http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {name: http}}}}]}
        ---
        apiVersion: example.com/v1
        kind: Widget
        metadata: {name: w, namespace: shop}
        """

    static func objects() -> [KubernetesObject] {
        let (set, diagnostics) = ManifestLoader.load([ManifestFile(path: "m.yaml", bytes: Array(yaml.utf8))])
        #expect(!diagnostics.hasErrors, "\(diagnostics)")
        return set.objects
    }

    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "gitway-cluster-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func canonicalDocumentRoundTripsEveryKind() throws {
        for object in Self.objects() {
            let bytes = CanonicalDocument.encode(object)
            #expect(try CanonicalDocument.decode(bytes, expecting: CanonicalDocument.ref(of: object)) == object)
            #expect(CanonicalDocument.encode(try CanonicalDocument.decode(bytes)) == bytes)
        }
    }

    @Test func reopenSeesWhatWasWritten() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try EmbeddedStore(directory: dir)
        #expect(try store.list().isEmpty)
        let live = Self.objects().map { LiveObject($0, revision: "r1") }
        for object in live { try store.apply(object) }
        try store.delete(live[1].ref)
        try store.delete(live[1].ref)  // deleting a missing object is fine
        var metadata = ClusterMetadata(appliedRevision: "r1")
        metadata.markBad("r0", reason: "probe failed", at: Date(timeIntervalSince1970: 1_000_000))
        try store.writeMetadata(metadata)

        let reopened = try EmbeddedStore(directory: dir)
        #expect(try reopened.list() == live.filter { $0.ref != live[1].ref }.sorted { $0.ref < $1.ref })
        #expect(try reopened.metadata() == metadata)
        #expect(try reopened.get(live[0].ref)?.decoded() == Self.objects()[0])
        #expect(try reopened.metadata().badRevision("r0")?.reason == "probe failed")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty)
    }

    @Test func sameObjectsGiveSameBytesWhateverTheOrder() throws {
        let (a, b) = (try Self.temporaryDirectory(), try Self.temporaryDirectory())
        defer {
            try? FileManager.default.removeItem(atPath: a)
            try? FileManager.default.removeItem(atPath: b)
        }
        let live = Self.objects().map { LiveObject($0, revision: "r1") }
        let (s1, s2) = (try EmbeddedStore(directory: a), try EmbeddedStore(directory: b))
        for object in live { try s1.apply(object) }
        for object in live.reversed() { try s2.apply(object) }
        try s2.delete(live[0].ref)
        try s2.apply(live[0])
        #expect(try Data(contentsOf: URL(fileURLWithPath: s1.inventoryPath)) == Data(contentsOf: URL(fileURLWithPath: s2.inventoryPath)))
    }

    @Test(
        arguments: [
            ("truncated", nil),
            ("garbage", "not json at all"),
            ("format", #"{"format":"something/v9","objects":[]}"#),
            (
                "base64",
                #"{"format":"gitway.cluster/v1","objects":[{"group":"","kind":"Service","namespace":"a","name":"b","revision":"r","document":"%%%"}]}"#
            ),
            (
                "document",
                #"{"format":"gitway.cluster/v1","objects":[{"group":"","kind":"Service","namespace":"a","name":"b","revision":"r","document":"e30="}]}"#
            ),
        ] as [(String, String?)])
    func corruptInventoryIsAClearError(name: String, content: String?) throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try EmbeddedStore(directory: dir)
        for object in Self.objects() { try store.apply(LiveObject(object, revision: "r1")) }
        let path = store.inventoryPath
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let corrupt = content.map { Data($0.utf8) } ?? bytes.prefix(bytes.count / 2)
        try corrupt.write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: EmbeddedStore.StoreError.self) { try EmbeddedStore(directory: dir) }
        #expect(error?.path == path)
        #expect(error?.description.contains("cluster store is corrupt") == true, "\(name)")
    }

    @Test func documentStoredUnderAnotherIdentityIsCorrupt() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try EmbeddedStore(directory: dir)
        let object = Self.objects()[0]
        var live = LiveObject(object, revision: "r1")
        live.ref.name = "other"
        try store.apply(live)
        let error = #expect(throws: EmbeddedStore.StoreError.self) { try EmbeddedStore(directory: dir) }
        #expect(error?.reason.contains("Service/shop/web") == true, "\(String(describing: error))")
    }

    @Test func corruptMetadataIsAClearError() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try EmbeddedStore(directory: dir)
        try store.writeMetadata(ClusterMetadata(appliedRevision: "r1"))
        try Data("{\"appliedRevision\": ".utf8).write(to: URL(fileURLWithPath: store.metadataPath))
        #expect(throws: EmbeddedStore.StoreError.self) { try EmbeddedStore(directory: dir) }
    }

    @Test func planAgainstTheStoreSeesOnlyRealChanges() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try EmbeddedStore(directory: dir)
        let objects = Self.objects()
        for object in objects { try store.apply(LiveObject(object, revision: "r1")) }
        let live = try PlanInput(live: try store.list(), revision: "r1", table: RouteTable())
        let same = PlanInput(revision: "r2", manifests: ManifestSet(objects: objects), table: RouteTable())
        let unchanged = Planner.plan(live: live, desired: same)
        #expect(unchanged.objects.isEmpty)
        #expect(unchanged.unchangedObjects == objects.count)

        let emptied = Planner.plan(live: live, desired: PlanInput(revision: "r3", manifests: ManifestSet(), table: RouteTable()))
        #expect(emptied.prunesEverything)
        #expect(emptied.count(.prune) == objects.count)
    }

    @Test func badRevisionsAreBounded() {
        var metadata = ClusterMetadata()
        for i in 0..<(ClusterMetadata.badRevisionLimit + 10) { metadata.markBad("r\(i)", reason: "x") }
        #expect(metadata.badRevisions.count == ClusterMetadata.badRevisionLimit)
        #expect(metadata.badRevision("r0") == nil)
        #expect(metadata.badRevision("r\(ClusterMetadata.badRevisionLimit + 9)") != nil)
    }
}
