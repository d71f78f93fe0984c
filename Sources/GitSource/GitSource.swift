import Foundation

/// The source of a routing repository: a local repository path (read in place) or a remote URL (fetched into a
/// bare cache). Produces `SourceArtifact`s for the followed branch or any ref.
///
/// Calls are serialised by an internal lock; the instance may be shared between tasks.
public final class GitSource: @unchecked Sendable {
    public let repository: String
    public let branch: String
    public let filter: TreeFilter
    public let stateDirectory: String?
    public let credentials: GitCredentials

    private let lock = NSLock()
    private var cached: GitRepository?
    private var lastSha: String?
    /// A temporary cache directory we created (stateDirectory == nil); removed on deinit.
    private var temporaryDirectory: String?

    public init(
        repository: String, branch: String = "main", filter: TreeFilter = .manifests, stateDirectory: String?,
        credentials: GitCredentials = .none
    ) {
        self.repository = repository
        self.branch = branch
        self.filter = filter
        self.stateDirectory = stateDirectory
        self.credentials = credentials
    }

    deinit {
        if let temporaryDirectory { try? FileManager.default.removeItem(atPath: temporaryDirectory) }
    }

    /// Whether `repository` is a URL (scheme://, file://, user@host:path) rather than a local path.
    public var isRemote: Bool { RemoteURL.isRemote(repository) }

    /// The repository, redacted for display.
    public var displayName: String { isRemote ? redactURL(repository) : repository }

    /// Local path: opened in place (no copy). URL: the bare cache under `<stateDirectory>/git` (a temporary
    /// directory when there is no state directory), cloned on first use. Returns a new handle on each call
    /// (one per thread).
    public func open() throws -> GitRepository {
        lock.lock()
        defer { lock.unlock() }
        return try openUnlocked()
    }

    private func openUnlocked() throws -> GitRepository {
        guard isRemote else { return try GitRepository.open(repository) }
        return try GitRepository.cache(url: repository, in: try cacheDirectory(), credentials: credentials)
    }

    private func cacheDirectory() throws -> String {
        if let stateDirectory { return stateDirectory + "/git" }
        if let temporaryDirectory { return temporaryDirectory }
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("gitway-git-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        temporaryDirectory = directory
        return directory
    }

    /// Fetches (remote only), then reads `rev` (default: the branch tip). `changed` is false when the resolved
    /// commit equals the one of this instance's previous call, so callers can skip recompiling.
    public func artifact(at rev: String? = nil) throws -> (artifact: SourceArtifact, changed: Bool) {
        lock.lock()
        defer { lock.unlock() }
        let repo: GitRepository
        if let cached {
            repo = cached
        } else {
            repo = try openUnlocked()
            cached = repo
        }
        if isRemote {
            if repo.freshlyCloned {
                repo.freshlyCloned = false
            } else {
                _ = try repo.fetch(branch: branch, credentials: credentials)
            }
        }
        let ref = rev ?? branch
        let sha = try repo.resolve(ref)
        let commit = try repo.commitInfo(sha)
        let tree = try repo.readTree(commit: sha, filter: filter)
        let artifact = SourceArtifact(
            branch: ref, commit: commit, filter: filter, files: tree.files, oversized: tree.oversized)
        let changed = sha != lastSha
        lastSha = sha
        return (artifact, changed)
    }
}
