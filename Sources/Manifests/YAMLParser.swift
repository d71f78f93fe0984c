import CYAML
import RouteModel

/// Builds `YAMLNode` trees from libyaml's event API.
///
/// Only the event API is used (libyaml's document API resolves aliases by sharing nodes, which would
/// hide the expansion cost and loses nothing we need). Everything hostile input could abuse is
/// bounded: alias expansion (billion laughs), nesting depth, number of documents.
/// Problems are returned as located diagnostics; a document with a problem is left out, the
/// other documents of the stream are still returned.
public enum YAMLParser {
    /// Parses a whole stream.
    public static func parse(
        _ bytes: [UInt8], file: String, limits: YAMLLimits = YAMLLimits()
    ) -> (documents: [YAMLDocument], diagnostics: [Diagnostic]) {
        var documents: [YAMLDocument] = []
        let result = bytes.withUnsafeBufferPointer { buffer in
            parse(buffer, file: file, lineOffset: 0, firstDocument: 0, limits: limits) { documents.append($0) }
        }
        return (documents, result.diagnostics)
    }

    /// Parses `buffer` (a whole stream, or a slice of one that starts at a line boundary, whose first
    /// line is line `lineOffset + 1` of `file` and whose first document is document `firstDocument`)
    /// and hands each good, non-empty document to `body`. Returns how many documents the slice held
    /// (empty and rejected ones included) and the diagnostics.
    static func parse(
        _ buffer: UnsafeBufferPointer<UInt8>, file: String, lineOffset: Int, firstDocument: Int, limits: YAMLLimits,
        body: (YAMLDocument) -> Void
    ) -> (documentCount: Int, diagnostics: [Diagnostic]) {
        // libyaml stores a pointer to the parser inside the parser: it needs a stable address.
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        defer { parser.deallocate() }
        guard yaml_parser_initialize(parser) == 1 else {
            let start = SourceLocation(file: file, line: 1, column: 1)
            return (0, [.error("out of memory initialising the YAML parser", at: start)])
        }
        defer { yaml_parser_delete(parser) }
        // An empty buffer's base address may be nil; libyaml wants a valid pointer.
        let empty: [UInt8] = [0]
        return empty.withUnsafeBufferPointer { emptyBuffer in
            let start = buffer.baseAddress ?? emptyBuffer.baseAddress!
            yaml_parser_set_input_string(parser, start, buffer.count)
            var builder = TreeBuilder(file: file, lineOffset: lineOffset, firstDocument: firstDocument, limits: limits)
            builder.run(parser, buffer: buffer, body: body)
            return (builder.documentCount - firstDocument, builder.diagnostics)
        }
    }
}

/// The event loop: builds each document's arena from libyaml's events.
private struct TreeBuilder {
    let file: String
    let lineOffset: Int
    let limits: YAMLLimits
    var diagnostics: [Diagnostic] = []
    /// Index of the next document.
    var documentCount: Int

    /// A collection being built; its children so far are `pending[pendingStart...]`.
    private struct Frame {
        var isMapping: Bool
        var line: Int32
        var column: Int32
        var anchor: String?
        var pendingStart: Int
        /// Nodes in this subtree, aliases expanded.
        var size = 1
        /// Depth of the deepest child subtree.
        var childDepth = 0
        /// The last key was `<<`: the next value is merged at the end instead of stored.
        var awaitingMergeValue = false
        var merges: [NodeID] = []
        /// Key text → key node, built once a mapping is large enough for linear scans to cost.
        var keyIndex: [String: NodeID]?
    }

    private struct Anchor {
        var id: NodeID
        var size: Int
        var depth: Int
    }

    // The current document.
    private var nodes: [RawNode] = []
    private var children: [NodeID] = []
    private var text: [UInt8] = []
    private var tags: [String] = []
    private var pending: [NodeID] = []
    private var stack: [Frame] = []
    private var anchors: [String: Anchor] = [:]
    private var root: NodeID = -1
    /// The current document is rejected; skip its events until its end.
    private var failed = false
    private var nodesWritten = 0
    private var nodesExpanded = 0

    init(file: String, lineOffset: Int, firstDocument: Int, limits: YAMLLimits) {
        self.file = file
        self.lineOffset = lineOffset
        self.documentCount = firstDocument
        self.limits = limits
        stack.reserveCapacity(16)
        pending.reserveCapacity(64)
    }

    private func location(_ mark: yaml_mark_t) -> SourceLocation {
        SourceLocation(file: file, line: Int(mark.line) + 1 + lineOffset, column: Int(mark.column) + 1)
    }

    private mutating func fail(_ message: String, at location: SourceLocation) {
        diagnostics.append(.error(message, at: location))
        failed = true
    }

    private mutating func fail(_ message: String, atLine line: Int32, column: Int32) {
        fail(message, at: SourceLocation(file: file, line: Int(line), column: Int(column)))
    }

    private mutating func startDocument() {
        failed = false
        root = -1
        // Size the arena like the previous document: documents of a file tend to look alike.
        let sizes = (nodes.count, children.count, text.count)
        nodes = []
        children = []
        text = []
        tags = []
        nodes.reserveCapacity(sizes.0)
        children.reserveCapacity(sizes.1)
        text.reserveCapacity(sizes.2)
        pending.removeAll(keepingCapacity: true)
        stack.removeAll(keepingCapacity: true)
        anchors.removeAll(keepingCapacity: true)
        nodesWritten = 0
        nodesExpanded = 0
    }

    mutating func run(
        _ parser: UnsafeMutablePointer<yaml_parser_t>, buffer: UnsafeBufferPointer<UInt8>, body: (YAMLDocument) -> Void
    ) {
        var event = yaml_event_t()
        while true {
            guard yaml_parser_parse(parser, &event) == 1 else {
                syntaxError(parser.pointee, buffer: buffer)
                return
            }
            defer { yaml_event_delete(&event) }
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return
            case YAML_DOCUMENT_START_EVENT:
                if documentCount >= limits.maxDocuments {
                    diagnostics.append(
                        .error(
                            "more than \(limits.maxDocuments) documents in one file", at: location(event.start_mark)))
                    return
                }
                startDocument()
            case YAML_DOCUMENT_END_EVENT:
                let index = documentCount
                documentCount += 1
                if !failed, root >= 0 {
                    let doc = YAMLDocument(
                        file: file, index: index, nodes: nodes, children: children, text: text, tags: tags,
                        rootID: root)
                    if !doc.isNull(root) { body(doc) }
                }
            case YAML_SCALAR_EVENT:
                if !failed { scalar(event) }
            case YAML_SEQUENCE_START_EVENT:
                if !failed {
                    startCollection(isMapping: false, anchor: event.data.sequence_start.anchor, at: event.start_mark)
                }
            case YAML_MAPPING_START_EVENT:
                if !failed {
                    startCollection(isMapping: true, anchor: event.data.mapping_start.anchor, at: event.start_mark)
                }
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                if !failed { endCollection() }
            case YAML_ALIAS_EVENT:
                if !failed { alias(event) }
            default:
                continue
            }
        }
    }

    // MARK: Events

    private mutating func scalar(_ event: yaml_event_t) {
        let data = event.data.scalar
        nodesWritten += 1
        let style: YAMLScalarStyle
        switch data.style {
        case YAML_SINGLE_QUOTED_SCALAR_STYLE, YAML_DOUBLE_QUOTED_SCALAR_STYLE: style = .quoted
        case YAML_LITERAL_SCALAR_STYLE: style = .literal
        case YAML_FOLDED_SCALAR_STYLE: style = .folded
        default: style = .plain
        }
        var tag: Int32 = -1
        if let t = data.tag {
            let name = String(cString: t)
            // `!` alone is the non-specific tag: "not implicitly typed", i.e. a string.
            tag = Int32(tags.count)
            tags.append(name == "!" ? YAMLTag.str : name)
        }
        let start = Int32(text.count)
        if data.length > 0 {
            text.append(contentsOf: UnsafeBufferPointer(start: data.value, count: data.length))
        }
        let id = NodeID(nodes.count)
        nodes.append(
            RawNode(
                kind: .scalar, style: style, tag: tag, line: Int32(Int(event.start_mark.line) + 1 + lineOffset),
                column: Int32(event.start_mark.column + 1), start: start, count: Int32(data.length)))
        add(id, size: 1, depth: 0, anchor: data.anchor)
    }

    private mutating func startCollection(
        isMapping: Bool, anchor: UnsafeMutablePointer<yaml_char_t>?, at mark: yaml_mark_t
    ) {
        nodesWritten += 1
        let line = Int32(Int(mark.line) + 1 + lineOffset)
        let column = Int32(mark.column + 1)
        if stack.count >= limits.maxDepth {
            fail("nesting deeper than \(limits.maxDepth) levels", atLine: line, column: column)
            return
        }
        stack.append(
            Frame(
                isMapping: isMapping, line: line, column: column, anchor: anchor.map { String(cString: $0) },
                pendingStart: pending.count))
    }

    private mutating func endCollection() {
        guard var frame = stack.popLast() else { return }
        if frame.isMapping, !frame.merges.isEmpty {
            guard merge(&frame) else { return }
        }
        let start = Int32(children.count)
        children.append(contentsOf: pending[frame.pendingStart...])
        let count = Int32(pending.count - frame.pendingStart)
        pending.removeSubrange(frame.pendingStart...)
        let id = NodeID(nodes.count)
        nodes.append(
            RawNode(
                kind: frame.isMapping ? .mapping : .sequence, style: .plain, tag: -1, line: frame.line,
                column: frame.column, start: start, count: count))
        addNode(id, size: frame.size, depth: frame.childDepth + 1, anchor: frame.anchor)
    }

    private mutating func alias(_ event: yaml_event_t) {
        let loc = location(event.start_mark)
        let name = String(cString: event.data.alias.anchor)
        guard let anchor = anchors[name] else {
            fail("undefined alias \"*\(name)\"", at: loc)
            return
        }
        nodesExpanded += anchor.size
        if nodesExpanded > max(limits.maxAliasExpansion, 10 * nodesWritten) {
            fail("alias expansion exceeds limit (possible billion-laughs document)", at: loc)
            return
        }
        if stack.count + anchor.depth > limits.maxDepth {
            fail("nesting deeper than \(limits.maxDepth) levels (through alias \"*\(name)\")", at: loc)
            return
        }
        // A copy of the anchor's node at the alias' place; collections share the anchor's children.
        var node = nodes[Int(anchor.id)]
        node.line = Int32(loc.line)
        node.column = Int32(loc.column)
        let id = NodeID(nodes.count)
        nodes.append(node)
        addNode(id, size: anchor.size, depth: anchor.depth, anchor: nil)
    }

    private mutating func add(_ id: NodeID, size: Int, depth: Int, anchor: UnsafeMutablePointer<yaml_char_t>?) {
        addNode(id, size: size, depth: depth, anchor: anchor.map { String(cString: $0) })
    }

    /// Attaches a finished node to its parent (or makes it the document root).
    private mutating func addNode(_ id: NodeID, size: Int, depth: Int, anchor: String?) {
        if let anchor { anchors[anchor] = Anchor(id: id, size: size, depth: depth) }
        let top = stack.count - 1
        guard top >= 0 else {
            root = id
            return
        }
        stack[top].size += size
        if depth > stack[top].childDepth { stack[top].childDepth = depth }
        guard stack[top].isMapping, (pending.count - stack[top].pendingStart) & 1 == 0 else {
            // A sequence item or a mapping value.
            pending.append(id)
            return
        }
        if stack[top].awaitingMergeValue {
            stack[top].awaitingMergeValue = false
            stack[top].merges.append(id)
            return
        }
        // `id` is a key.
        let key = nodes[Int(id)]
        if key.kind == .scalar {
            if key.style == .plain, key.count == 2, isMergeKey(key) {
                stack[top].awaitingMergeValue = true
                return
            }
            if let first = firstKey(equalTo: id, top: top) {
                let name = string(of: key)
                fail(
                    "duplicate key \"\(name)\" (first defined at line \(nodes[Int(first)].line))",
                    atLine: key.line, column: key.column)
                return
            }
        }
        pending.append(id)
    }

    private func isMergeKey(_ key: RawNode) -> Bool {
        guard key.tag < 0 || tags[Int(key.tag)] == YAMLTag.merge else { return false }
        let s = Int(key.start)
        return text[s] == UInt8(ascii: "<") && text[s + 1] == UInt8(ascii: "<")
    }

    private func string(of node: RawNode) -> String {
        String(decoding: text[Int(node.start)..<Int(node.start + node.count)], as: UTF8.self)
    }

    private func sameText(_ a: RawNode, _ b: RawNode) -> Bool {
        guard a.count == b.count else { return false }
        return text.withUnsafeBufferPointer { t in
            memcmpEqual(t.baseAddress! + Int(a.start), t.baseAddress! + Int(b.start), Int(a.count))
        }
    }

    /// An earlier scalar key of the open mapping with the same text as `id`, if any.
    private mutating func firstKey(equalTo id: NodeID, top: Int) -> NodeID? {
        let key = nodes[Int(id)]
        let start = stack[top].pendingStart
        let keys = (pending.count - start) / 2
        if keys < 16 {
            var i = start
            while i < pending.count {
                let other = nodes[Int(pending[i])]
                if other.kind == .scalar, sameText(other, key) { return pending[i] }
                i += 2
            }
            return nil
        }
        if stack[top].keyIndex == nil {
            var index: [String: NodeID] = [:]
            var i = start
            while i < pending.count {
                let other = nodes[Int(pending[i])]
                if other.kind == .scalar, index[string(of: other)] == nil { index[string(of: other)] = pending[i] }
                i += 2
            }
            stack[top].keyIndex = index
        }
        let name = string(of: key)
        if let first = stack[top].keyIndex![name] { return first }
        stack[top].keyIndex![name] = id
        return nil
    }

    /// Applies `<<` merge keys: entries of the merged mappings are added unless the mapping already
    /// has the key (explicit keys win, then earlier merges), as YAML 1.1's merge type says.
    private mutating func merge(_ frame: inout Frame) -> Bool {
        var sources: [NodeID] = []
        for value in frame.merges {
            let n = nodes[Int(value)]
            switch n.kind {
            case .mapping:
                sources.append(value)
            case .sequence:
                for item in children[Int(n.start)..<Int(n.start + n.count)] {
                    guard nodes[Int(item)].kind == .mapping else {
                        fail(
                            "a merge key (<<) value must be a mapping or a sequence of mappings",
                            atLine: n.line, column: n.column)
                        return false
                    }
                    sources.append(item)
                }
            case .scalar:
                fail(
                    "a merge key (<<) value must be a mapping or a sequence of mappings",
                    atLine: n.line, column: n.column)
                return false
            }
        }
        var seen = Set<String>()
        var i = frame.pendingStart
        while i < pending.count {
            let k = nodes[Int(pending[i])]
            if k.kind == .scalar { seen.insert(string(of: k)) }
            i += 2
        }
        for source in sources {
            let n = nodes[Int(source)]
            var j = Int(n.start)
            while j < Int(n.start + n.count) {
                let k = nodes[Int(children[j])]
                if k.kind == .scalar, seen.insert(string(of: k)).inserted {
                    pending.append(children[j])
                    pending.append(children[j + 1])
                }
                j += 2
            }
        }
        return true
    }

    // MARK: Errors

    /// Reports libyaml's error with its own words, at its `problem_mark` (1-based), plus its context.
    private mutating func syntaxError(_ p: yaml_parser_t, buffer: UnsafeBufferPointer<UInt8>) {
        let problem = p.problem.map { String(cString: $0) } ?? "unknown error"
        var loc = location(p.problem_mark)
        var message = "invalid YAML: \(problem)"
        switch p.error {
        case YAML_READER_ERROR:
            // Reader errors carry a byte offset, not a mark.
            loc = locationOfOffset(p.problem_offset, in: buffer)
            if p.problem_value >= 0 { message += " (byte 0x\(String(p.problem_value, radix: 16, uppercase: true)))" }
        case YAML_MEMORY_ERROR:
            message = "out of memory while parsing YAML"
        default:
            if let context = p.context.map({ String(cString: $0) }) {
                let c = location(p.context_mark)
                message += " (\(context) at line \(c.line), column \(c.column))"
            }
        }
        diagnostics.append(.error(message, at: loc))
    }

    private func locationOfOffset(_ offset: Int, in buffer: UnsafeBufferPointer<UInt8>) -> SourceLocation {
        var line = 1
        var lineStart = 0
        let end = min(offset, buffer.count)
        for i in 0..<end where buffer[i] == UInt8(ascii: "\n") {
            line += 1
            lineStart = i + 1
        }
        // Columns count characters, not bytes.
        var column = 1
        for i in lineStart..<end where buffer[i] & 0xC0 != 0x80 { column += 1 }
        return SourceLocation(file: file, line: line + lineOffset, column: column)
    }
}

/// `memcmp(a, b, n) == 0` without importing libc.
@inline(__always) func memcmpEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    var i = 0
    while i < n {
        if a[i] != b[i] { return false }
        i += 1
    }
    return true
}
