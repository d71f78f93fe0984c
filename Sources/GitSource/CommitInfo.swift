/// Metadata of one commit, as recorded in history and audit records.
public struct CommitInfo: Sendable, Hashable, Codable {
    public var sha: String
    public var parents: [String]
    public var authorName: String
    public var authorEmail: String
    /// Unix seconds.
    public var authorTime: Int64
    public var committerName: String
    public var committerEmail: String
    /// Unix seconds.
    public var committerTime: Int64
    /// The full message, as stored.
    public var message: String

    public init(
        sha: String, parents: [String], authorName: String, authorEmail: String, authorTime: Int64,
        committerName: String, committerEmail: String, committerTime: Int64, message: String
    ) {
        self.sha = sha
        self.parents = parents
        self.authorName = authorName
        self.authorEmail = authorEmail
        self.authorTime = authorTime
        self.committerName = committerName
        self.committerEmail = committerEmail
        self.committerTime = committerTime
        self.message = message
    }

    /// The first line of the message (what `git log --oneline` shows).
    public var summary: String {
        message.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
    }
}

/// One file of a commit, read from the object database.
public struct SourceFile: Sendable, Hashable {
    /// Repo-relative, `/`-separated.
    public var path: String
    public var bytes: [UInt8]

    public init(path: String, bytes: [UInt8]) {
        self.path = path
        self.bytes = bytes
    }
}

/// Result of `GitRepository.fetch`: where the followed branch was before and after.
public struct FetchResult: Sendable, Hashable {
    public var previousTip: String?
    public var tip: String
    public var moved: Bool { previousTip != tip }

    public init(previousTip: String?, tip: String) {
        self.previousTip = previousTip
        self.tip = tip
    }
}
