import RouteModel

/// Decodes the documents of one file into typed objects, collecting located diagnostics.
///
/// Decoding never stops at the first problem of an object: every problem is reported (the user
/// fixes them all in one round), then the object is left out if any of them was an error.
/// The field path (`spec.rules[0].host`) is kept as a stack of components and only rendered when a
/// message needs it, so the happy path builds no strings but the values themselves.
final class ObjectDecoder {
    let doc: YAMLDocument
    // A decoder is used by one thread, and its methods never overlap accesses to these: dynamic
    // exclusivity checks would only cost time (they showed in profiles of large repositories).
    @exclusivity(unchecked) private(set) var diagnostics: [Diagnostic] = []
    @exclusivity(unchecked) private(set) var errorCount = 0
    @exclusivity(unchecked) private var path: [PathComponent] = []

    enum PathComponent {
        case field(String)
        case index(Int)
        /// A user-chosen map key (annotation name, data key): rendered `["key"]`.
        case key(String)
    }

    init(document: YAMLDocument) {
        self.doc = document
        path.reserveCapacity(12)
    }

    // MARK: Paths and messages

    /// Runs `body` with `component` appended to the field path.
    @inline(__always) func within<T>(_ component: PathComponent, _ body: () -> T) -> T {
        path.append(component)
        defer { path.removeLast() }
        return body()
    }

    @inline(__always) func within<T>(_ field: String, _ body: () -> T) -> T { within(.field(field), body) }

    /// The current path, with `field` appended when given: `spec.rules[0].host`.
    func pathString(_ field: String? = nil) -> String {
        var out = ""
        func add(_ c: PathComponent) {
            switch c {
            case .field(let name):
                if !out.isEmpty { out += "." }
                out += name
            case .index(let i): out += "[\(i)]"
            case .key(let k): out += "[\(ScalarTyping.quoted(k))]"
            }
        }
        for c in path { add(c) }
        if let field { add(.field(field)) }
        return out
    }

    /// `path: message`, or just `message` at the top level.
    func prefixed(_ message: String, field: String?) -> String {
        let p = pathString(field)
        return p.isEmpty ? message : "\(p): \(message)"
    }

    func error(_ message: String, at location: SourceLocation) {
        diagnostics.append(.error(message, at: location))
        errorCount += 1
    }

    func error(_ message: String, at id: NodeID) { error(message, at: doc.location(id)) }

    func warning(_ message: String, at location: SourceLocation) {
        diagnostics.append(.warning(message, at: location))
    }

    func warning(_ message: String, at id: NodeID) { warning(message, at: doc.location(id)) }

    func typeError(expected: String, _ id: NodeID, field: String?) {
        error(prefixed("expected \(expected), got \(ScalarTyping.describe(doc, id))", field: field), at: id)
    }

    // MARK: Structure

    /// Present: the key exists and its value is not null.
    @inline(__always) func present(_ id: NodeID) -> Bool { id >= 0 && !doc.isNull(id) }

    /// Reports a missing required field at its parent mapping; returns whether it is present.
    @discardableResult
    func require(_ id: NodeID, _ name: String, in parent: NodeID) -> Bool {
        if present(id) { return true }
        let p = pathString()
        let message = "missing required field \"\(name)\""
        error(p.isEmpty ? message : "\(message) in \(p)", at: parent)
        return false
    }

    /// Walks a mapping's entries. `body` gets each key's text and value and returns false for keys it
    /// does not know, which are reported as warnings naming `context` (Kubernetes' strict decoding
    /// warns about unknown fields too). Returns false, after reporting, if `id` is not a mapping;
    /// a null `id` is an absent mapping (true, no entries).
    @discardableResult
    func forEachField(
        _ id: NodeID, field: String?, context: String, _ body: (_ key: String, _ value: NodeID) -> Bool
    ) -> Bool {
        guard id >= 0 else { return true }
        switch doc.kind(id) {
        case .mapping: break
        case .scalar where doc.isNull(id): return true
        default:
            typeError(expected: "a mapping", id, field: field)
            return false
        }
        doc.forEachPair(id) { k, v in
            guard doc.kind(k) == .scalar else {
                error(prefixed("mapping keys must be strings", field: field), at: k)
                return
            }
            let key = doc.string(k)
            if !body(key, v) { warning("unknown field \(ScalarTyping.quoted(key)) in \(context)", at: k) }
        }
        return true
    }

    /// The items of a sequence (null: none). Reports and returns nil for anything else.
    func sequence(_ id: NodeID, field: String?) -> ArraySlice<NodeID>? {
        guard present(id) else { return [] }
        guard doc.kind(id) == .sequence else {
            typeError(expected: "a sequence", id, field: field)
            return nil
        }
        return doc.items(id)
    }

    /// Calls `body` for each item of a sequence field, with `field[i]` on the path.
    func forEachItem(_ id: NodeID, field: String, _ body: (NodeID) -> Void) {
        guard let items = sequence(id, field: field) else { return }
        within(field) {
            for (i, item) in items.enumerated() {
                within(.index(i)) { body(item) }
            }
        }
    }

    // MARK: Scalars (see ScalarTyping for the rules)

    /// A string field: any scalar's text; nil when absent or null.
    func string(_ id: NodeID, field: String?) -> String? {
        guard present(id) else { return nil }
        guard doc.kind(id) == .scalar else {
            typeError(expected: "a string", id, field: field)
            return nil
        }
        return doc.string(id)
    }

    /// An integer field: plain decimal integers only (or tagged `!!int`).
    func int(_ id: NodeID, field: String?) -> Int? {
        guard present(id) else { return nil }
        guard doc.isPlainUntagged(id) || doc.kind(id) == .scalar && doc.tag(id) == YAMLTag.int else {
            typeError(expected: "an integer", id, field: field)
            return nil
        }
        switch doc.withBytes(id, ScalarTyping.parseInt) {
        case .int(let n):
            return n
        case .overflow:
            error(prefixed("integer \(doc.string(id)) is too large", field: field), at: id)
        case .ambiguous:
            let text = ScalarTyping.quoted(doc.string(id))
            let message =
                "expected a decimal integer, got \(text) (YAML 1.1 and 1.2 read it differently; write a plain decimal)"
            error(prefixed(message, field: field), at: id)
        case .notANumber:
            typeError(expected: "an integer", id, field: field)
        }
        return nil
    }

    /// A port number field: an integer in 1...65535.
    func port(_ id: NodeID, field: String?) -> Int? {
        guard let n = int(id, field: field) else { return nil }
        guard (1...65535).contains(n) else {
            error(prefixed("port \(n) is out of range 1-65535", field: field), at: id)
            return nil
        }
        return n
    }

    /// A boolean field: `true`/`false` (or tagged `!!bool`); YAML 1.1 spellings with a warning.
    func bool(_ id: NodeID, field: String?) -> Bool? {
        guard present(id) else { return nil }
        guard doc.isPlainUntagged(id) || doc.kind(id) == .scalar && doc.tag(id) == YAMLTag.bool else {
            typeError(expected: "a boolean", id, field: field)
            return nil
        }
        let text = doc.string(id)
        switch ScalarTyping.parseBool(text) {
        case .bool(let b):
            return b
        case .yaml11(let b):
            warning(prefixed("YAML 1.1 boolean '\(text)' read as \(b); write \(b)", field: field), at: id)
            return b
        case .notABool:
            typeError(expected: "a boolean", id, field: field)
            return nil
        }
    }

    /// An IntOrString field: a plain decimal is an integer, a quoted value or a name is a string.
    func intOrString(_ id: NodeID, field: String?) -> IntOrString? {
        guard present(id) else { return nil }
        guard doc.kind(id) == .scalar else {
            typeError(expected: "an integer or a string", id, field: field)
            return nil
        }
        guard doc.isPlainUntagged(id) else { return .string(doc.string(id)) }
        switch doc.withBytes(id, ScalarTyping.parseInt) {
        case .int(let n): return .int(n)
        case .notANumber: return .string(doc.string(id))
        case .overflow:
            error(prefixed("integer \(doc.string(id)) is too large", field: field), at: id)
        case .ambiguous:
            let text = ScalarTyping.quoted(doc.string(id))
            error(
                prefixed(
                    "expected a decimal integer or a name, got \(text) (YAML 1.1 and 1.2 read it differently; "
                        + "write a plain decimal, or quote it for a name)",
                    field: field), at: id)
        }
        return nil
    }

    /// A string that must be one of `allowed`.
    func enumString(_ id: NodeID, field: String, allowed: [String]) -> String? {
        guard let s = string(id, field: field) else { return nil }
        guard allowed.contains(s) else {
            error(
                prefixed(
                    "unsupported value \(ScalarTyping.quoted(s)); must be one of \(allowed.joined(separator: ", "))",
                    field: field), at: id)
            return nil
        }
        return s
    }

    /// A list of strings (`hosts`, `addresses`). Null items are errors: they would silently vanish.
    func stringList(_ id: NodeID, field: String) -> [String] {
        guard let items = sequence(id, field: field) else { return [] }
        var out: [String] = []
        out.reserveCapacity(items.count)
        within(field) {
            for (i, item) in items.enumerated() {
                within(.index(i)) {
                    if doc.isNull(item) {
                        error(prefixed("expected a string, got null", field: nil), at: item)
                    } else if let s = string(item, field: nil) {
                        out.append(s)
                    }
                }
            }
        }
        return out
    }

    /// A map of strings (labels, annotations, selector, stringData). `what` names a value in
    /// messages ("annotation"). A null value is an error: Kubernetes would read it as absent or "",
    /// and which one the author meant is unclear.
    func stringMap(
        _ id: NodeID, field: String, what: String, locations wantLocations: Bool = false
    ) -> (values: [String: String], locations: [String: SourceLocation]) {
        var values: [String: String] = [:]
        var locations: [String: SourceLocation] = [:]
        guard present(id) else { return (values, locations) }
        guard doc.kind(id) == .mapping else {
            typeError(expected: "a mapping", id, field: field)
            return (values, locations)
        }
        values.reserveCapacity(doc.count(id))
        if wantLocations { locations.reserveCapacity(doc.count(id)) }
        doc.forEachPair(id) { k, v in
            guard doc.kind(k) == .scalar else {
                within(field) { error(prefixed("mapping keys must be strings", field: nil), at: k) }
                return
            }
            let key = doc.string(k)
            // The path is only needed for messages: pushed on the error path alone.
            if doc.kind(v) == .scalar, !doc.isNull(v) {
                values[key] = doc.string(v)
                if wantLocations { locations[key] = doc.location(v) }
                return
            }
            within(field) {
                within(.key(key)) {
                    if doc.isNull(v) {
                        error(prefixed("\(what) value must be a string, got null; quote it", field: nil), at: v)
                    } else {
                        typeError(expected: "a string", v, field: nil)
                    }
                }
            }
        }
        return (values, locations)
    }
}
