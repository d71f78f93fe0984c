import RouteModel

/// How a scalar was written. Kept because Kubernetes' typing depends on it: a quoted `"80"` is a
/// string even where a plain `80` would be a number.
public enum YAMLScalarStyle: UInt8, Hashable, Sendable {
    case plain
    /// Single- or double-quoted.
    case quoted
    /// `|` block scalar.
    case literal
    /// `>` block scalar.
    case folded
}

/// A scalar exactly as written: text after YAML unescaping/folding, but not yet typed. Typing is
/// done by the field that reads it (see `ScalarTyping.swift`), as Kubernetes' schema-driven decoding does.
public struct YAMLScalar: Hashable, Sendable {
    public var value: String
    public var style: YAMLScalarStyle
    /// The resolved tag when one was written (`!!str` → `tag:yaml.org,2002:str`), else `nil`.
    public var tag: String?

    public init(_ value: String, style: YAMLScalarStyle = .plain, tag: String? = nil) {
        self.value = value
        self.style = style
        self.tag = tag
    }

    /// A plain, untagged `null`/`~`/empty scalar, or one tagged `!!null`: the YAML way of saying "absent".
    public var isNull: Bool {
        if let tag { return tag == YAMLTag.null }
        guard style == .plain else { return false }
        switch value {
        case "", "~", "null", "Null", "NULL": return true
        default: return false
        }
    }
}

/// The standard tags the decoder understands.
enum YAMLTag {
    static let str = "tag:yaml.org,2002:str"
    static let null = "tag:yaml.org,2002:null"
    static let int = "tag:yaml.org,2002:int"
    static let bool = "tag:yaml.org,2002:bool"
    static let merge = "tag:yaml.org,2002:merge"
}

/// One key/value entry of a mapping, in document order.
public struct YAMLPair: Hashable, Sendable {
    public var key: YAMLNode
    public var value: YAMLNode

    public init(key: YAMLNode, value: YAMLNode) {
        self.key = key
        self.value = value
    }
}

/// A node of a parsed YAML document. Aliases are already resolved (an alias is a copy of its
/// anchor's node, which is cheap: collections are copy-on-write), and merge keys (`<<`) applied.
public struct YAMLNode: Hashable, Sendable {
    public enum Content: Hashable, Sendable {
        case scalar(YAMLScalar)
        case sequence([YAMLNode])
        /// Ordered as written; keys are unique (duplicates are rejected by the parser).
        case mapping([YAMLPair])
    }

    public var content: Content
    /// Where the node starts: the first character of a scalar, `[`/`{` of a flow collection, the first
    /// key or `-` of a block collection.
    public var location: SourceLocation

    public init(_ content: Content, location: SourceLocation) {
        self.content = content
        self.location = location
    }

    public var scalar: YAMLScalar? {
        if case .scalar(let s) = content { return s }
        return nil
    }

    public var sequence: [YAMLNode]? {
        if case .sequence(let s) = content { return s }
        return nil
    }

    public var mapping: [YAMLPair]? {
        if case .mapping(let m) = content { return m }
        return nil
    }

    /// True for a null scalar (see `YAMLScalar.isNull`).
    public var isNull: Bool {
        if case .scalar(let s) = content { return s.isNull }
        return false
    }

    /// The value of the first entry whose key is the scalar `key`, for tests and tools; decoders
    /// walk `mapping` once instead.
    public subscript(key: String) -> YAMLNode? {
        guard case .mapping(let pairs) = content else { return nil }
        for pair in pairs where pair.key.scalar?.value == key { return pair.value }
        return nil
    }

    public subscript(index: Int) -> YAMLNode? {
        guard case .sequence(let items) = content, items.indices.contains(index) else { return nil }
        return items[index]
    }
}

/// Resource limits for untrusted YAML, so a hostile commit cannot exhaust the agent.
public struct YAMLLimits: Hashable, Sendable {
    /// Nodes that alias expansion may add to one document: the larger of this and 10× the number of
    /// nodes actually written in it. Guards against "billion laughs".
    public var maxAliasExpansion: Int
    /// Maximum nesting of collections.
    public var maxDepth: Int
    /// Maximum number of documents in one stream.
    public var maxDocuments: Int

    public init(maxAliasExpansion: Int = 10_000, maxDepth: Int = 100, maxDocuments: Int = 10_000) {
        self.maxAliasExpansion = maxAliasExpansion
        self.maxDepth = maxDepth
        self.maxDocuments = maxDocuments
    }
}
