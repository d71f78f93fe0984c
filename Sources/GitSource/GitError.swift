import CGit2

/// A failed Git operation, classified so callers can react (retry on `.network`, alert on `.authentication`)
/// without parsing libgit2's messages.
public struct GitError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case authentication, unknownRef, network, corruptRepository, notARepository, hostKey, io, other
    }

    public var kind: Kind
    /// The remote involved (URL with any password or token removed), `nil` for local operations.
    public var remote: String?
    /// The cause; for local operations a complete sentence naming the object and the repository.
    public var message: String

    public init(kind: Kind, remote: String? = nil, message: String) {
        self.kind = kind
        self.remote = remote
        self.message = message
    }

    public var description: String {
        guard let remote else { return message }
        return "cannot fetch \(remote): \(kind.phrase): \(message)"
    }
}

extension GitError.Kind {
    /// Short human phrase used in descriptions of remote errors.
    var phrase: String {
        switch self {
        case .authentication: return "authentication failed"
        case .unknownRef: return "unknown ref"
        case .network: return "network error"
        case .corruptRepository: return "corrupt repository"
        case .notARepository: return "not a repository"
        case .hostKey: return "host key verification failed"
        case .io: return "I/O error"
        case .other: return "error"
        }
    }
}

extension GitError {
    /// Builds an error from a libgit2 return code and `git_error_last()`.
    /// - Parameters:
    ///   - context: what was being done, e.g. "cannot read commit abc in /repo"; prefixed to libgit2's message.
    ///   - refLookup: `GIT_ENOTFOUND` means the ref/object asked for does not exist (→ `.unknownRef`).
    static func libgit2(
        _ code: Int32, _ context: String, remote: String? = nil, refLookup: Bool = false
    ) -> GitError {
        let last = git_error_last()
        let klass = last.map { $0.pointee.klass } ?? 0
        var detail = last.flatMap { $0.pointee.message.map { String(cString: $0) } } ?? "libgit2 error \(code)"
        detail = detail.trimmingTrailingNewlines()
        let kind = classify(code: code, klass: klass, refLookup: refLookup)
        if remote != nil {
            // Remote errors: `description` adds "cannot fetch <remote>: <phrase>:"; keep the cause only.
            return GitError(kind: kind, remote: remote, message: detail)
        }
        return GitError(kind: kind, message: context.isEmpty ? detail : "\(context): \(detail)")
    }

    static func classify(code: Int32, klass: Int32, refLookup: Bool) -> Kind {
        func isClass(_ c: git_error_t) -> Bool { klass == Int32(bitPattern: c.rawValue) }
        if code == GIT_EAUTH.rawValue { return .authentication }
        if code == GIT_ECERTIFICATE.rawValue { return .hostKey }
        if code == GIT_EMISMATCH.rawValue { return .corruptRepository }
        if code == GIT_ENOTFOUND.rawValue && refLookup { return .unknownRef }
        if code == GIT_EAMBIGUOUS.rawValue && refLookup { return .unknownRef }
        if isClass(GIT_ERROR_NET) || isClass(GIT_ERROR_SSL) || isClass(GIT_ERROR_SSH) || isClass(GIT_ERROR_HTTP) {
            return .network
        }
        if isClass(GIT_ERROR_ODB) || isClass(GIT_ERROR_ZLIB) || isClass(GIT_ERROR_OBJECT)
            || isClass(GIT_ERROR_INDEXER)
        {
            return .corruptRepository
        }
        if isClass(GIT_ERROR_REPOSITORY) && code == GIT_ENOTFOUND.rawValue { return .notARepository }
        if isClass(GIT_ERROR_OS) || isClass(GIT_ERROR_FILESYSTEM) { return .io }
        if isClass(GIT_ERROR_REFERENCE) && code == GIT_ENOTFOUND.rawValue { return .unknownRef }
        return .other
    }
}

extension String {
    func trimmingTrailingNewlines() -> String {
        var s = Substring(self)
        while let last = s.last, last == "\n" || last == "\r" { s = s.dropLast() }
        return String(s)
    }
}
