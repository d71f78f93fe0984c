/// One immutable revision of the manifests: what every downstream stage reads, so a whole reconcile can be
/// replayed from it.
public struct SourceArtifact: Sendable {
    /// The branch followed, or the ref asked for.
    public var branch: String
    public var commit: CommitInfo
    /// "<branch>@sha1:<sha>", as Flux prints revisions; "sha1:<sha>" when a commit was asked for by its sha.
    public var revision: String
    public var filter: TreeFilter
    /// Sorted by path (byte order).
    public var files: [SourceFile]
    /// Files skipped for exceeding `filter.maxFileSize`.
    public var oversized: [(path: String, size: Int)]
    /// "sha256:<hex>" over (path, NUL, bytes, NUL)* in order: equal digests mean identical manifest input,
    /// whatever the commit.
    public var digest: String

    public init(
        branch: String, commit: CommitInfo, filter: TreeFilter, files: [SourceFile],
        oversized: [(path: String, size: Int)] = []
    ) {
        self.branch = branch
        self.commit = commit
        let askedBySha = branch.count >= 4 && commit.sha.hasPrefix(branch.lowercased())
        self.revision = askedBySha ? "sha1:\(commit.sha)" : "\(branch)@sha1:\(commit.sha)"
        self.filter = filter
        self.files = files
        self.oversized = oversized
        self.digest = SourceArtifact.digest(of: files)
    }

    public static func digest(of files: [SourceFile]) -> String {
        var hasher = SHA256()
        for file in files {
            hasher.update(Array(file.path.utf8))
            hasher.update(CollectionOfOne(UInt8(0)))
            hasher.update(file.bytes)
            hasher.update(CollectionOfOne(UInt8(0)))
        }
        return "sha256:" + hasher.finalize().hexString
    }
}
