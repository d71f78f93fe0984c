/// Which files of a commit are manifests: a subdirectory plus include/exclude globs.
///
/// Globs are matched against the path relative to `path`, segment by segment: `*` matches within one segment,
/// `**` (as a whole segment) matches zero or more segments, `?` one character, `[abc]`/`[a-z]`/`[!x]` a class.
public struct TreeFilter: Sendable, Hashable, Codable {
    /// Subdirectory, normalised: no leading/trailing `/`, "" for the repository root.
    public var path: String {
        didSet { path = TreeFilter.normalize(path) }
    }
    public var include: [String]
    public var exclude: [String]
    /// Blobs larger than this are not read; `readTree` reports them instead, so one huge file cannot
    /// exhaust memory or stall a reconcile.
    public var maxFileSize: Int

    public static let defaultInclude = ["**/*.yaml", "**/*.yml"]
    public static let defaultMaxFileSize = 4 * 1024 * 1024

    /// Every YAML file of the repository.
    public static let manifests = TreeFilter()

    public init(
        path: String = "", include: [String] = TreeFilter.defaultInclude, exclude: [String] = [],
        maxFileSize: Int = TreeFilter.defaultMaxFileSize
    ) {
        self.path = TreeFilter.normalize(path)
        self.include = include
        self.exclude = exclude
        self.maxFileSize = maxFileSize
    }

    /// "./a//b/" → "a/b"; "." and "/" → "".
    public static func normalize(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: true)
            .filter { $0 != "." }
            .joined(separator: "/")
    }

    static func namesHiddenSegment(_ pattern: String) -> Bool {
        pattern.split(separator: "/").contains { $0.hasPrefix(".") }
    }

    /// The part of a repo-relative path below `path`, or `nil` when the file is outside the subdirectory.
    public func relativePath(_ repoRelativePath: String) -> String? {
        if path.isEmpty { return repoRelativePath }
        guard repoRelativePath.hasPrefix(path + "/") else { return nil }
        return String(repoRelativePath.dropFirst(path.count + 1))
    }

    /// Whether a repo-relative file path is selected.
    ///
    /// Hidden files and directories (`.github/workflows/*.yml`, `.gitlab-ci.yml`) are not manifests: they
    /// are skipped as in directory mode, unless an include glob itself names a hidden segment.
    public func matches(_ repoRelativePath: String) -> Bool {
        guard let relative = relativePath(repoRelativePath), !relative.isEmpty else { return false }
        let segments = relative.split(separator: "/", omittingEmptySubsequences: false).map { Array($0.utf8) }
        let hidden = segments.contains { $0.first == UInt8(ascii: ".") }
        let patterns = hidden ? include.filter(TreeFilter.namesHiddenSegment) : include
        guard patterns.contains(where: { Glob.matches($0, segments) }) else { return false }
        return !exclude.contains(where: { Glob.matches($0, segments) })
    }
}

/// Segment-wise glob matching (see `TreeFilter`).
enum Glob {
    static func matches(_ pattern: String, _ path: String) -> Bool {
        matches(pattern, path.split(separator: "/", omittingEmptySubsequences: false).map { Array($0.utf8) })
    }

    static func matches(_ pattern: String, _ segments: [[UInt8]]) -> Bool {
        let parts = pattern.split(separator: "/", omittingEmptySubsequences: true).map { Array($0.utf8) }
        return matchSegments(parts[...], segments[...])
    }

    private static let doubleStar: [UInt8] = Array("**".utf8)

    private static func matchSegments(_ pattern: ArraySlice<[UInt8]>, _ path: ArraySlice<[UInt8]>) -> Bool {
        guard let first = pattern.first else { return path.isEmpty }
        if first == doubleStar {
            let rest = pattern.dropFirst()
            // Zero or more segments: try every suffix of the path.
            var candidate = path
            while true {
                if matchSegments(rest, candidate) { return true }
                if candidate.isEmpty { return false }
                candidate = candidate.dropFirst()
            }
        }
        guard let segment = path.first, matchSegment(first[...], segment[...]) else { return false }
        return matchSegments(pattern.dropFirst(), path.dropFirst())
    }

    /// Matches one segment; `*` backtracks over characters (bytes) of the segment.
    private static func matchSegment(_ pattern: ArraySlice<UInt8>, _ text: ArraySlice<UInt8>) -> Bool {
        var p = pattern.startIndex, t = text.startIndex
        var starP: Int? = nil, starT = 0
        while t < text.endIndex {
            if p < pattern.endIndex {
                let c = pattern[p]
                if c == UInt8(ascii: "*") {
                    starP = p
                    starT = t
                    p += 1
                    continue
                }
                if c == UInt8(ascii: "?") {
                    p += 1
                    t += advanceCharacter(text, t)
                    continue
                }
                if c == UInt8(ascii: "["), let (matched, next) = matchClass(pattern, p, text[t]) {
                    if matched {
                        p = next
                        t += 1
                        continue
                    }
                } else if c == UInt8(ascii: "\\"), p + 1 < pattern.endIndex, pattern[p + 1] == text[t] {
                    p += 2
                    t += 1
                    continue
                } else if c == text[t] {
                    p += 1
                    t += 1
                    continue
                }
            }
            guard let sp = starP else { return false }
            p = sp + 1
            starT += 1
            t = starT
        }
        while p < pattern.endIndex && pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.endIndex
    }

    /// Length in bytes of the UTF-8 character starting at `i`, so `?` matches one character, not one byte.
    private static func advanceCharacter(_ text: ArraySlice<UInt8>, _ i: Int) -> Int {
        var n = 1
        while i + n < text.endIndex && text[i + n] & 0xC0 == 0x80 { n += 1 }
        return n
    }

    /// `[...]` class at `start`; returns whether `byte` matches and the index after `]`, or `nil` if unterminated.
    private static func matchClass(_ pattern: ArraySlice<UInt8>, _ start: Int, _ byte: UInt8) -> (Bool, Int)? {
        var i = start + 1
        var negate = false
        if i < pattern.endIndex && (pattern[i] == UInt8(ascii: "!") || pattern[i] == UInt8(ascii: "^")) {
            negate = true
            i += 1
        }
        var matched = false
        var first = true
        while i < pattern.endIndex {
            let c = pattern[i]
            if c == UInt8(ascii: "]") && !first { return (matched != negate, i + 1) }
            first = false
            if i + 2 < pattern.endIndex && pattern[i + 1] == UInt8(ascii: "-") && pattern[i + 2] != UInt8(ascii: "]") {
                if (c...pattern[i + 2]).contains(byte) { matched = true }
                i += 3
            } else {
                if c == byte { matched = true }
                i += 1
            }
        }
        return nil
    }
}
