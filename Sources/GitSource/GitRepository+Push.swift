import CGit2

extension GitRepository {
    /// Pushes `refspecs` (e.g. `refs/notes/gitway:refs/notes/gitway`) to origin. A ref the remote rejects (not a
    /// fast-forward, protected) fails the push with the remote's reason.
    public func push(refspecs: [String], credentials: GitCredentials) throws {
        try locked {
            let url = try originURL()
            // An in-memory remote, as for fetches (see `fetchAll`): the URL pushed to is exactly the configured one.
            var createOptions = git_remote_create_options()
            git_remote_create_options_init(&createOptions, UInt32(GIT_REMOTE_CREATE_OPTIONS_VERSION))
            createOptions.repository = handle
            createOptions.flags =
                GIT_REMOTE_CREATE_SKIP_INSTEADOF.rawValue | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC.rawValue
            var remote: OpaquePointer?
            try check(git_remote_create_with_opts(&remote, url, &createOptions), "cannot use remote \(redactURL(url))")
            defer { git_remote_free(remote) }
            let session = RemoteSession(url: url, credentials: credentials)
            var options = git_push_options()
            git_push_options_init(&options, UInt32(GIT_PUSH_OPTIONS_VERSION))
            session.install(into: &options.callbacks)
            // libgit2 reports per-ref rejections only through this callback; turn one into an error.
            options.callbacks.push_update_reference = { refname, status, _ in
                guard let status else { return 0 }
                let name = refname.map { String(cString: $0) } ?? "?"
                git_error_set_str(Int32(bitPattern: GIT_ERROR_REFERENCE.rawValue), "\(name) rejected: \(String(cString: status))")
                return -1
            }
            let rc = withExtendedLifetime(session) {
                withStrArray(refspecs) { specs in git_remote_push(remote, specs, &options) }
            }
            if rc < 0 {
                // `GitError` describes remote errors as fetch failures; say push.
                let error = session.error(rc)
                throw GitError(
                    kind: error.kind, message: "cannot push to \(session.redactedURL): \(error.kind.phrase): \(error.message)")
            }
        }
    }
}
