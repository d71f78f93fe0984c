import Manifests
import RouteModel

/// One side of a plan: a revision's objects and compiled table.
public struct PlanInput: Sendable {
    /// `main@sha1:<hash>`, or any label for what is live.
    public var revision: String
    public var manifests: ManifestSet
    public var table: RouteTable

    public init(revision: String, manifests: ManifestSet, table: RouteTable) {
        self.revision = revision
        self.manifests = manifests
        self.table = table
    }
}

extension PlanInput {
    /// The object a plan entry refers to: the plan holds identities only, so that it never carries
    /// object bodies (or secret material); an applier takes the body to apply from the desired side
    /// (and the one to restore on rollback from the live side).
    public func object(_ ref: ObjectRef) -> KubernetesObject? {
        manifests.objects.first { Planner.ref($0) == ref }
    }
}

/// `(desired, live) → Plan`: a pure function, no I/O.
public enum Planner {
    public static func plan(live: PlanInput, desired: PlanInput, checks: Plan.Checks = Plan.Checks()) -> Plan {
        let (objects, unchanged) = diffObjects(live: live.manifests, desired: desired.manifests)
        let pruned = objects.filter { $0.action == .prune }.count
        return Plan(
            base: live.revision, head: desired.revision, objects: objects, unchangedObjects: unchanged,
            routes: diffRoutes(live: live.table, desired: desired.table),
            prunesEverything: !live.manifests.objects.isEmpty && pruned == live.manifests.objects.count,
            checks: checks)
    }

    // MARK: Objects

    static func ref(_ object: KubernetesObject) -> ObjectRef {
        ObjectRef(group: object.apiGroup, kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name)
    }

    /// Pairs objects by identity. Returns the changes in apply order and the number of unchanged objects.
    static func diffObjects(live: ManifestSet, desired: ManifestSet) -> ([ObjectChange], Int) {
        var liveByRef: [ObjectRef: KubernetesObject] = [:]
        for object in live.objects { liveByRef[ref(object)] = liveByRef[ref(object)] ?? object }
        var seen = Set<ObjectRef>()
        var applies: [ObjectChange] = []
        var unchanged = 0
        for object in desired.objects {
            let r = ref(object)
            guard seen.insert(r).inserted else { continue }
            let wave = ObjectChange.Wave.of(kind: r.kind)
            guard let old = liveByRef[r] else {
                applies.append(ObjectChange(action: .create, object: r, wave: wave, location: object.source.location))
                continue
            }
            let fields = fieldChanges(from: old, to: object)
            if fields.isEmpty {
                unchanged += 1
            } else {
                applies.append(
                    ObjectChange(action: .update, object: r, wave: wave, fields: fields, location: object.source.location))
            }
        }
        var prunes: [ObjectChange] = []
        for (r, object) in liveByRef where !seen.contains(r) {
            prunes.append(
                ObjectChange(action: .prune, object: r, wave: .of(kind: r.kind), location: object.source.location))
        }
        // Waves ascending for creates and updates, descending for prunes; by identity within a wave.
        applies.sort { ($0.wave, $0.object) < ($1.wave, $1.object) }
        prunes.sort { ($1.wave, $0.object) < ($0.wave, $1.object) }
        return (applies + prunes, unchanged)
    }

    /// Top-level paths, labels and annotations that differ. Never values.
    static func fieldChanges(from old: KubernetesObject, to new: KubernetesObject) -> [FieldChange] {
        var out: [FieldChange] = []
        let (a, b) = (old.metadata, new.metadata)
        out += mapChanges(a.labels, b.labels, path: "metadata.labels")
        out += mapChanges(a.annotations, b.annotations, path: "metadata.annotations")
        let before = body(of: old)
        let after = body(of: new)
        for path in Set(before.keys).union(after.keys).sorted() {
            let x = before[path] ?? .null
            let y = after[path] ?? .null
            guard x != y else { continue }
            let change: FieldChange.Change = x == .null ? .added : y == .null ? .removed : .changed
            // Secret values stay out of every output; only the fact of a change is shown.
            let hidden = new.kind == "Secret" && path == "data"
            out.append(FieldChange(path: path, change: change, valuesHidden: hidden ? true : nil))
        }
        return out
    }

    static func mapChanges(_ a: [String: String], _ b: [String: String], path: String) -> [FieldChange] {
        var out: [FieldChange] = []
        for key in Set(a.keys).union(b.keys).sorted() where a[key] != b[key] {
            let change: FieldChange.Change = a[key] == nil ? .added : b[key] == nil ? .removed : .changed
            out.append(FieldChange(path: "\(path)[\(quoted(key))]", change: change))
        }
        return out
    }

    static func quoted(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// An object's content (all but metadata) by Kubernetes top-level path: `spec.rules`, `data`, `subsets`.
    /// Opaque kinds carry no content in the model, so only their metadata is compared.
    static func body(of object: KubernetesObject) -> [String: FieldTree] {
        let payload: Any
        var specFields: Set<String> = []
        var renames: [String: String] = [:]
        switch object {
        case .ingress(let o): payload = o
        case .ingressClass(let o):
            payload = o
            specFields = ["controller", "parameters"]
        case .service(let o):
            payload = o
            specFields = ["type", "ports", "selector", "externalName"]
        case .endpointSlice(let o): payload = o
        case .endpoints(let o): payload = o
        case .secret(let o): payload = o
        case .mseIngressConfig(let o):
            payload = o
            renames = [
                "ingressClass": "ingress.local.ingressClass", "watchNamespace": "ingress.local.watchNamespace",
                "ipWhitelist": "global.ipAccessControl.whitelist", "ipBlacklist": "global.ipAccessControl.blacklist",
            ]
        case .opaque: return [:]
        }
        var out: [String: FieldTree] = [:]
        for (key, value) in FieldTree(reflecting: payload).fields where key != "metadata" {
            if key == "spec" {
                for (field, sub) in value.fields { out["spec." + (renames[field] ?? field)] = sub }
            } else if specFields.contains(key) {
                out["spec." + key] = value
            } else {
                out[key] = value
            }
        }
        return out
    }
}
