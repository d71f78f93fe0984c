import CGit2

extension GitRepository {
    /// Attaches `message` as a git note (ref `refs/notes/<namespace>`) to a commit: the audit trail lives next
    /// to the commit it describes and shows in `git log --notes=<namespace>`.
    public func addNote(to sha: String, namespace: String = "gitway", message: String, overwrite: Bool = true) throws {
        try locked {
            var oid = try resolveOID(sha)
            let signature = try makeSignature(name: "Gitway", email: "gitway@gitway.invalid", time: nil)
            defer { git_signature_free(signature) }
            var noteID = git_oid()
            let rc = git_note_create(
                &noteID, handle, "refs/notes/\(namespace)", signature, signature, &oid, message,
                overwrite ? 1 : 0)
            if rc == GIT_EEXISTS.rawValue {
                throw GitError(kind: .other, message: "commit \(hex(oid)) already has a \(namespace) note in \(path)")
            }
            try check(rc, "cannot add a \(namespace) note to \(hex(oid)) in \(path)")
        }
    }

    /// The note attached to a commit in `refs/notes/<namespace>`, or `nil`.
    public func note(on sha: String, namespace: String = "gitway") throws -> String? {
        try locked {
            var oid = try resolveOID(sha)
            var note: OpaquePointer?
            let rc = git_note_read(&note, handle, "refs/notes/\(namespace)", &oid)
            defer { git_note_free(note) }
            if rc == GIT_ENOTFOUND.rawValue { return nil }
            try check(rc, "cannot read the \(namespace) note of \(hex(oid)) in \(path)")
            return git_note_message(note).map { String(cString: $0) }
        }
    }

    /// Appends `line` to the commit's note (creating it), so every event about a commit stays visible in order.
    /// Read and write happen under the repository's lock; another process writing the same note in between
    /// would lose its line (the agent is the only writer of its cache).
    public func appendNoteLine(to sha: String, namespace: String = "gitway", line: String) throws {
        try locked {
            var message = try note(on: sha, namespace: namespace) ?? ""
            if !message.isEmpty && !message.hasSuffix("\n") { message += "\n" }
            message += line.hasSuffix("\n") ? line : line + "\n"
            try addNote(to: sha, namespace: namespace, message: message, overwrite: true)
        }
    }
}
