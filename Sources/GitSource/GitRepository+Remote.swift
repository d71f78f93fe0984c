import CGit2
import Foundation

extension GitRepository {
    /// Refspecs of the mirror cache: every branch as a remote-tracking ref (forced, so force-pushes are followed)
    /// and every tag.
    static let fetchRefspecs = ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"]

    /// Clones `url` as a bare mirror cache inside `cacheDirectory`, or opens the cache if present and its origin
    /// URL matches. The directory name is derived from a hash of the URL (plus a readable hint), so the same
    /// remote always maps to the same cache. A cache that cannot be opened or points elsewhere is rebuilt: it holds
    /// nothing that cannot be fetched again. Cloning happens in a temporary directory renamed into place, so an
    /// interrupted clone never leaves a half-filled cache behind.
    public static func cache(
        url: String, in cacheDirectory: String, credentials: GitCredentials
    ) throws -> GitRepository {
        LibGit2.ensureInitialized()
        let fileManager = FileManager.default
        let directory = absolute(cacheDirectory)
        do {
            try fileManager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw GitError(
                kind: .io, message: "cannot create cache directory \(directory): \(error.localizedDescription)")
        }
        if url.hasPrefix("/") && !fileManager.fileExists(atPath: url) {
            // libgit2 only recognises existing paths as local and would say "unsupported URL protocol".
            throw GitError(kind: .network, remote: url, message: "no repository at \(url)")
        }
        let target = directory + "/" + cacheName(for: url)
        if fileManager.fileExists(atPath: target) {
            if let existing = try? open(target), (try? existing.originURL()) == url {
                return existing
            }
            try? fileManager.removeItem(atPath: target)
        }
        let temporary = directory + "/.tmp-\(UUID().uuidString)"
        defer { try? fileManager.removeItem(atPath: temporary) }
        do {  // scoped so the temporary repository is closed before it is moved
            let fresh = try create(at: temporary, bare: true)
            try fresh.configureOrigin(url)
            try fresh.fetchAll(url: url, credentials: credentials)
        }
        do {
            try fileManager.moveItem(atPath: temporary, toPath: target)
        } catch {
            // Another process may have finished the same clone first; use theirs if it is sound.
            guard let existing = try? open(target), (try? existing.originURL()) == url else {
                throw GitError(kind: .io, message: "cannot move the clone of \(redactURL(url)) to \(target): \(error)")
            }
            return existing
        }
        let repository = try open(target)
        repository.freshlyCloned = true
        return repository
    }

    /// "<last path component>-<16 hex of sha256(url)>.git": unique per URL, yet recognisable in a listing.
    static func cacheName(for url: String) -> String {
        var hint = url
        while hint.hasSuffix("/") { hint.removeLast() }
        if hint.hasSuffix(".git") { hint.removeLast(4) }
        let last = hint.split(whereSeparator: { $0 == "/" || $0 == ":" }).last.map(String.init) ?? "repo"
        let safe = String(
            last.unicodeScalars.map { scalar -> Character in
                CharacterSet.alphanumerics.contains(scalar) || scalar == "-" || scalar == "_" || scalar == "."
                    ? Character(scalar) : "_"
            }.prefix(40))
        return "\(safe.isEmpty ? "repo" : safe)-\(SHA256.hexDigest(url).prefix(16)).git"
    }

    /// Records `origin` in the repository config (so `git fetch` in the cache works too). Written directly:
    /// `git_remote_create`/`git_remote_lookup` leak PCRE2 match data on every call in libgit2 1.5 (fixed in 1.6,
    /// libgit2 PR #6382), which would add up over a long-running agent's polls.
    func configureOrigin(_ url: String) throws {
        var config: OpaquePointer?
        try check(git_repository_config(&config, handle), "cannot open the config of \(path)")
        defer { git_config_free(config) }
        try check(git_config_set_string(config, "remote.origin.url", url), "cannot configure origin in \(path)")
        try check(
            git_config_set_string(config, "remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*"),
            "cannot configure origin in \(path)")
    }

    /// The URL of the `origin` remote.
    public func originURL() throws -> String {
        try locked {
            var config: OpaquePointer?
            try check(git_repository_config_snapshot(&config, handle), "cannot read the config of \(path)")
            defer { git_config_free(config) }
            var buffer = git_buf()
            defer { git_buf_dispose(&buffer) }
            let rc = git_config_get_string_buf(&buffer, config, "remote.origin.url")
            if rc == GIT_ENOTFOUND.rawValue {
                throw GitError(kind: .other, message: "repository \(path) has no remote 'origin'")
            }
            try check(rc, "cannot read the URL of origin in \(path)")
            return buffer.ptr.map { String(cString: $0) } ?? ""
        }
    }

    /// Fetches origin (`refs/heads/*` to `refs/remotes/origin/*`, tags), pruning refs deleted on the remote,
    /// and reports how the remote-tracking ref of `branch` moved.
    public func fetch(branch: String, credentials: GitCredentials) throws -> FetchResult {
        try locked {
            let url = try originURL()
            let trackingRef = "refs/remotes/origin/\(branch)"
            let previous = try? referenceTarget(trackingRef)
            try fetchAll(url: url, credentials: credentials)
            guard let tip = try referenceTarget(trackingRef) else {
                throw GitError(
                    kind: .unknownRef, remote: redactURL(url),
                    message: "branch '\(branch)' does not exist on the remote")
            }
            return FetchResult(previousTip: previous.flatMap { $0 }.map { hex($0) }, tip: hex(tip))
        }
    }

    func fetchAll(url: String, credentials: GitCredentials) throws {
        // An in-memory remote for the URL with explicit refspecs: no config lookups (see `configureOrigin`) and
        // no url.insteadOf rewriting, so the URL fetched is exactly the one configured.
        var createOptions = git_remote_create_options()
        git_remote_create_options_init(&createOptions, UInt32(GIT_REMOTE_CREATE_OPTIONS_VERSION))
        createOptions.repository = handle
        createOptions.flags =
            GIT_REMOTE_CREATE_SKIP_INSTEADOF.rawValue
            | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC.rawValue
        var remote: OpaquePointer?
        try check(git_remote_create_with_opts(&remote, url, &createOptions), "cannot use remote \(redactURL(url))")
        defer { git_remote_free(remote) }
        let session = RemoteSession(url: url, credentials: credentials)
        var options = git_fetch_options()
        git_fetch_options_init(&options, UInt32(GIT_FETCH_OPTIONS_VERSION))
        options.prune = GIT_FETCH_PRUNE
        options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_ALL
        options.update_fetchhead = 0
        session.install(into: &options.callbacks)
        let rc = withExtendedLifetime(session) {
            withStrArray(GitRepository.fetchRefspecs) { refspecs in
                git_remote_fetch(remote, refspecs, &options, "gitway: fetch")
            }
        }
        if rc < 0 { throw session.error(rc) }
        recordRemoteHead(remote)
    }

    /// Points `refs/remotes/origin/HEAD` at the remote's default branch (as `git clone` does), so "HEAD" resolves
    /// in a bare cache. Best effort: transports that do not advertise HEAD leave it alone.
    private func recordRemoteHead(_ remote: OpaquePointer?) {
        var buffer = git_buf()
        defer { git_buf_dispose(&buffer) }
        guard git_remote_default_branch(&buffer, remote) == 0, let pointer = buffer.ptr else {
            git_error_clear()
            return
        }
        let branchRef = String(cString: pointer)
        guard branchRef.hasPrefix("refs/heads/") else { return }
        let target = "refs/remotes/origin/" + branchRef.dropFirst("refs/heads/".count)
        var reference: OpaquePointer?
        if git_reference_symbolic_create(
            &reference, handle, "refs/remotes/origin/HEAD", target, 1,
            "gitway: remote HEAD") == 0
        {
            git_reference_free(reference)
        } else {
            git_error_clear()
        }
    }
}
