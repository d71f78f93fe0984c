import RouteModel

/// Index of a node in its `YAMLDocument`.
typealias NodeID = Int32

/// A node in a document's arena: 24 bytes, no references, so building and walking a document of
/// any size costs no per-node allocation or reference counting.
struct RawNode: Sendable {
    enum Kind: UInt8, Sendable { case scalar, sequence, mapping }

    var kind: Kind
    var style: YAMLScalarStyle
    /// Index in `YAMLDocument.tags`, or -1 when untagged.
    var tag: Int32
    /// 1-based, in the file.
    var line: Int32
    var column: Int32
    /// Scalar: byte offset in `text`. Collection: offset in `children`.
    var start: Int32
    /// Scalar: byte length. Sequence: items. Mapping: 2 × entries (key, value, key, value, ...).
    var count: Int32
}

/// One document of a YAML stream, stored compactly: every node in one array, children as ranges of
/// one index array, scalar text in one byte array. Aliases share their anchor's children.
/// `root` materialises the convenient `YAMLNode` tree; the manifest decoder walks the arena directly.
public struct YAMLDocument: Sendable {
    public let file: String
    /// 0-based position of the document in its stream (empty documents count).
    public let index: Int
    let nodes: [RawNode]
    let children: [NodeID]
    let text: [UInt8]
    let tags: [String]
    let rootID: NodeID

    init(
        file: String, index: Int, nodes: [RawNode], children: [NodeID], text: [UInt8], tags: [String], rootID: NodeID
    ) {
        self.file = file
        self.index = index
        self.nodes = nodes
        self.children = children
        self.text = text
        self.tags = tags
        self.rootID = rootID
    }

    /// The document as a tree.
    public var root: YAMLNode { tree(rootID) }

    func tree(_ id: NodeID) -> YAMLNode {
        let n = nodes[Int(id)]
        let loc = location(id)
        switch n.kind {
        case .scalar:
            return YAMLNode(.scalar(YAMLScalar(string(id), style: n.style, tag: tag(id))), location: loc)
        case .sequence:
            return YAMLNode(.sequence(items(id).map { tree($0) }), location: loc)
        case .mapping:
            var pairs: [YAMLPair] = []
            pairs.reserveCapacity(Int(n.count / 2))
            forEachPair(id) { k, v in pairs.append(YAMLPair(key: tree(k), value: tree(v))) }
            return YAMLNode(.mapping(pairs), location: loc)
        }
    }

    // MARK: Arena access, for the decoder

    @inline(__always) func kind(_ id: NodeID) -> RawNode.Kind { nodes[Int(id)].kind }

    func location(_ id: NodeID) -> SourceLocation {
        let n = nodes[Int(id)]
        return SourceLocation(file: file, line: Int(n.line), column: Int(n.column))
    }

    func tag(_ id: NodeID) -> String? {
        let t = nodes[Int(id)].tag
        return t < 0 ? nil : tags[Int(t)]
    }

    /// A scalar's text (empty for collections).
    func string(_ id: NodeID) -> String {
        let n = nodes[Int(id)]
        guard n.kind == .scalar else { return "" }
        return text.withUnsafeBufferPointer { buffer in
            let bytes = UnsafeBufferPointer(rebasing: buffer[Int(n.start)..<Int(n.start + n.count)])
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// Calls `body` with a scalar's bytes, without making a String.
    func withBytes<R>(_ id: NodeID, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        let n = nodes[Int(id)]
        let range = n.kind == .scalar ? Int(n.start)..<Int(n.start + n.count) : 0..<0
        return text.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[range])) }
    }

    /// True when the node is a scalar whose text is exactly `s`.
    func scalarEquals(_ id: NodeID, _ s: StaticString) -> Bool {
        let n = nodes[Int(id)]
        guard n.kind == .scalar, Int(n.count) == s.utf8CodeUnitCount else { return false }
        return withBytes(id) { b in
            var i = 0
            let p = s.utf8Start
            while i < b.count {
                if b[i] != p[i] { return false }
                i += 1
            }
            return true
        }
    }

    /// A null scalar: plain and untagged `null`/`Null`/`NULL`/`~`/empty, or tagged `!!null`.
    func isNull(_ id: NodeID) -> Bool {
        let n = nodes[Int(id)]
        guard n.kind == .scalar else { return false }
        if n.tag >= 0 { return tags[Int(n.tag)] == YAMLTag.null }
        guard n.style == .plain else { return false }
        switch n.count {
        case 0: return true
        case 1: return scalarEquals(id, "~")
        case 4: return scalarEquals(id, "null") || scalarEquals(id, "Null") || scalarEquals(id, "NULL")
        default: return false
        }
    }

    /// Plain and untagged: the only scalars YAML types implicitly (`true`, `80`, `null`).
    func isPlainUntagged(_ id: NodeID) -> Bool {
        let n = nodes[Int(id)]
        return n.kind == .scalar && n.style == .plain && n.tag < 0
    }

    /// Number of items of a sequence or entries of a mapping.
    func count(_ id: NodeID) -> Int {
        let n = nodes[Int(id)]
        switch n.kind {
        case .scalar: return 0
        case .sequence: return Int(n.count)
        case .mapping: return Int(n.count / 2)
        }
    }

    func items(_ id: NodeID) -> ArraySlice<NodeID> {
        let n = nodes[Int(id)]
        guard n.kind == .sequence else { return [] }
        return children[Int(n.start)..<Int(n.start + n.count)]
    }

    @inline(__always) func forEachPair(_ id: NodeID, _ body: (_ key: NodeID, _ value: NodeID) -> Void) {
        let n = nodes[Int(id)]
        guard n.kind == .mapping else { return }
        var i = Int(n.start)
        let end = i + Int(n.count)
        while i < end {
            body(children[i], children[i + 1])
            i += 2
        }
    }
}
