// A test helper, not part of the product: runs one transaction of the embedded store in its own
// process so that ApplierTests can kill it for real (SIGKILL) at a journal record and then recover
// over the same state directory.
//
//   gitway-crash-probe seed  <state-dir>   applies revision A to an empty store
//   gitway-crash-probe apply <state-dir>   applies revision B over it
//
// With GITWAY_TEST_CRASH_AT=<record> (`begin`, `step:2`, `gatewaySwapped`, …) the process kills itself
// with SIGKILL right after that journal record is durable. The variable is read here only; the
// product never reads it.
import Applier
import Cluster
import Foundation
import Manifests
import Planner
import RouteModel

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

let revisionA = """
    apiVersion: v1
    kind: Namespace
    metadata: {name: shop}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: web, namespace: shop}
    spec: {ports: [{port: 80}]}
    ---
    apiVersion: discovery.k8s.io/v1
    kind: EndpointSlice
    metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
    addressType: IPv4
    endpoints: [{addresses: [10.0.0.1]}]
    ports: [{port: 8080}]
    ---
    apiVersion: v1
    kind: Secret
    metadata: {name: old, namespace: shop}
    type: Opaque
    data: {k: dmFsdWU=}
    ---
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata: {name: shop, namespace: shop}
    spec:
      rules:
      - host: shop.example.com
        http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}
    """

let revisionB = """
    apiVersion: v1
    kind: Namespace
    metadata: {name: shop}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: web, namespace: shop}
    spec: {ports: [{port: 80}]}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: api, namespace: shop}
    spec: {ports: [{port: 80}]}
    ---
    apiVersion: discovery.k8s.io/v1
    kind: EndpointSlice
    metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
    addressType: IPv4
    endpoints: [{addresses: [10.0.0.2]}]
    ports: [{port: 8080}]
    ---
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata: {name: shop, namespace: shop}
    spec:
      rules:
      - host: shop.example.com
        http: {paths: [{path: /api, pathType: Prefix, backend: {service: {name: api, port: {number: 80}}}}]}
    """

struct NoGateway: GatewayTarget {
    func install(revision: String, table: RouteTable, objects: ManifestSet) async throws {}
    func restorePrevious() async throws {}
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("gitway-crash-probe: \(message)\n".utf8))
    exit(2)
}

let arguments = CommandLine.arguments
guard arguments.count == 3, ["seed", "apply"].contains(arguments[1]) else { fail("usage: seed|apply <state-dir>") }
let state = arguments[2]
let crashAt = ProcessInfo.processInfo.environment["GITWAY_TEST_CRASH_AT"]

do {
    let store = try EmbeddedStore(directory: state + "/cluster")
    let applier = Applier(
        cluster: store, gateway: NoGateway(), journalDirectory: state + "/journal",
        testHookAfterJournalRecord: { record in
            if record.label == crashAt { kill(getpid(), SIGKILL) }
        })
    let (yaml, revision) = arguments[1] == "seed" ? (revisionA, "rev-a") : (revisionB, "rev-b")
    let (manifests, diagnostics) = ManifestLoader.load([ManifestFile(path: "m.yaml", bytes: Array(yaml.utf8))])
    guard !diagnostics.hasErrors else { fail("\(diagnostics)") }
    let desired = PlanInput(revision: revision, manifests: manifests, table: RouteTable())
    let live = try PlanInput(live: store.list(), revision: try store.metadata().appliedRevision ?? "", table: RouteTable())
    let outcome = try await applier.apply(ApplyRequest(plan: Planner.plan(live: live, desired: desired), desired: desired))
    print(outcome.result.rawValue, outcome.stepsApplied)
} catch {
    fail("\(error)")
}
