import CGit2
import Foundation

/// A libgit2 repository handle: reading commits and trees straight from the object database (no checkout),
/// resolving refs, history, and (in extensions) fetching, writing and notes.
///
/// Thread-safety: libgit2 objects must not be used from two threads at once. Calls on one instance are
/// serialised by an internal lock, so sharing is safe but sequential; for parallel work open one
/// `GitRepository` per thread (opening is cheap).
public final class GitRepository: @unchecked Sendable {
    /// Absolute path as opened (work tree root or bare repository directory).
    public let path: String
    let handle: OpaquePointer
    private let lock = NSRecursiveLock()
    /// True when `cache(url:)` has just cloned this repository, so the first fetch can be skipped.
    var freshlyCloned = false
    /// Loose objects already checked by `ensureIntact`.
    var intactObjects = Set<String>()

    init(handle: OpaquePointer, path: String) {
        self.handle = handle
        self.path = path
    }

    deinit {
        git_repository_free(handle)
    }

    func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    static func absolute(_ path: String) -> String {
        let url =
            path.hasPrefix("/")
            ? URL(fileURLWithPath: path)
            : URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(path)
        let standardized = url.standardizedFileURL.path
        return standardized.count > 1 && standardized.hasSuffix("/") ? String(standardized.dropLast()) : standardized
    }

    /// Opens a work tree root or a bare repository at exactly `path` (parent directories are not searched,
    /// so a manifests directory inside some other repository is not silently picked up).
    public static func open(_ path: String) throws -> GitRepository {
        LibGit2.ensureInitialized()
        let absolutePath = absolute(path)
        var repo: OpaquePointer?
        let rc = git_repository_open_ext(&repo, absolutePath, GIT_REPOSITORY_OPEN_NO_SEARCH.rawValue, nil)
        guard rc == 0, let repo else {
            let detail = GitError.libgit2(rc, "").message
            throw GitError(kind: .notARepository, message: "\(absolutePath) is not a Git repository: \(detail)")
        }
        return GitRepository(handle: repo, path: absolutePath)
    }

    /// Creates a new repository whose HEAD points at the unborn `initialBranch`.
    public static func create(
        at path: String, bare: Bool = false, initialBranch: String = "main"
    ) throws -> GitRepository {
        LibGit2.ensureInitialized()
        let absolutePath = absolute(path)
        var options = git_repository_init_options()
        git_repository_init_options_init(&options, UInt32(GIT_REPOSITORY_INIT_OPTIONS_VERSION))
        options.flags = GIT_REPOSITORY_INIT_MKPATH.rawValue | (bare ? GIT_REPOSITORY_INIT_BARE.rawValue : 0)
        var repo: OpaquePointer?
        let head = "refs/heads/" + initialBranch
        let rc = head.withCString { cHead in
            options.initial_head = cHead
            return git_repository_init_ext(&repo, absolutePath, &options)
        }
        guard rc == 0, let repo else {
            var error = GitError.libgit2(rc, "cannot create repository at \(absolutePath)")
            if error.kind == .other { error.kind = .io }
            throw error
        }
        return GitRepository(handle: repo, path: absolutePath)
    }

    public var isBare: Bool { locked { git_repository_is_bare(handle) == 1 } }

    // MARK: - Errors

    func check(_ rc: Int32, _ context: @autoclosure () -> String, refLookup: Bool = false) throws {
        if rc < 0 { throw GitError.libgit2(rc, context(), refLookup: refLookup) }
    }

    func unknownRef(_ ref: String, _ why: String? = nil) -> GitError {
        GitError(kind: .unknownRef, message: "unknown ref '\(ref)' in \(path)" + (why.map { ": \($0)" } ?? ""))
    }

    // MARK: - Refs

    /// Resolves a ref or sha to a commit sha. Order: "HEAD"; a full sha; "refs/..."; local branch; remote-tracking
    /// branch of origin; tag (annotated tags peeled); "<remote>/<branch>"; abbreviated sha (>= 4 hex digits).
    public func resolve(_ ref: String) throws -> String {
        try locked { hex(try resolveOID(ref)) }
    }

    func resolveOID(_ ref: String) throws -> git_oid {
        let name = ref.trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty else { throw unknownRef(ref, "empty name") }
        if name == "HEAD" {
            // A bare mirror cache has an unborn local HEAD; the remote's HEAD (if recorded) stands in for it.
            for candidate in ["HEAD", "refs/remotes/origin/HEAD"] {
                if let target = try referenceTarget(candidate) { return try peelToCommit(target, asked: ref) }
            }
            throw unknownRef(ref, "HEAD does not point to a commit (unborn branch?)")
        }
        if let oid = parseOID(name) {
            return try peelToCommit(oid, asked: ref, missingIsUnknown: true)
        }
        let candidates =
            name.hasPrefix("refs/")
            ? [name]
            : ["refs/heads/\(name)", "refs/remotes/origin/\(name)", "refs/tags/\(name)", "refs/remotes/\(name)"]
        for candidate in candidates {
            if let target = try referenceTarget(candidate) { return try peelToCommit(target, asked: ref) }
        }
        if (4..<Int(GIT_OID_HEXSZ)).contains(name.utf8.count), name.utf8.allSatisfy(\.isHexDigit) {
            var prefix = git_oid()
            try check(git_oid_fromstrn(&prefix, name, name.utf8.count), "invalid sha '\(name)'", refLookup: true)
            var odb: OpaquePointer?
            try check(git_repository_odb(&odb, handle), "cannot open the object database of \(path)")
            defer { git_odb_free(odb) }
            var full = git_oid()
            let rc = git_odb_exists_prefix(&full, odb, &prefix, name.utf8.count)
            if rc == GIT_EAMBIGUOUS.rawValue { throw unknownRef(ref, "ambiguous abbreviated sha") }
            if rc == GIT_ENOTFOUND.rawValue { throw unknownRef(ref) }
            try check(rc, "cannot look up '\(name)' in \(path)", refLookup: true)
            return try peelToCommit(full, asked: ref, missingIsUnknown: true)
        }
        throw unknownRef(ref)
    }

    /// Follows annotated tags down to a commit. A missing object is an unknown ref when the caller named it by
    /// sha, and corruption when a ref points to it.
    func peelToCommit(_ start: git_oid, asked: String, missingIsUnknown: Bool = false) throws -> git_oid {
        var oid = start
        for _ in 0..<32 {
            try ensureIntact(oid)
            var object: OpaquePointer?
            let rc = git_object_lookup(&object, handle, &oid, GIT_OBJECT_ANY)
            defer { git_object_free(object) }
            if rc == GIT_ENOTFOUND.rawValue && missingIsUnknown { throw unknownRef(asked) }
            try check(rc, "cannot read object \(hex(oid)) (for '\(asked)') in \(path)")
            let type = git_object_type(object)
            if type == GIT_OBJECT_COMMIT { return oid }
            guard type == GIT_OBJECT_TAG, let target = git_tag_target_id(object) else {
                let typeName = git_object_type2string(type).map { String(cString: $0) } ?? "non-commit"
                throw unknownRef(asked, "\(hex(oid)) is a \(typeName), not a commit")
            }
            oid = target.pointee
        }
        throw unknownRef(asked, "tag chain too long")
    }

    /// The id a reference points to (symbolic refs followed, objects not read), or `nil` if it does not exist.
    func referenceTarget(_ name: String) throws -> git_oid? {
        var oid = git_oid()
        let rc = git_reference_name_to_id(&oid, handle, name)
        if rc == GIT_ENOTFOUND.rawValue || rc == GIT_EINVALIDSPEC.rawValue { return nil }
        try check(rc, "cannot read ref \(name) in \(path)")
        return oid
    }

    // MARK: - Commits

    /// Looks up a commit; the caller frees it. `ref` may be any form `resolve` accepts.
    func lookupCommit(_ ref: String) throws -> OpaquePointer {
        try lookupCommit(oid: try resolveOID(ref))
    }

    func lookupCommit(oid: git_oid) throws -> OpaquePointer {
        var oid = oid
        try ensureIntact(oid)
        var commit: OpaquePointer?
        try check(git_commit_lookup(&commit, handle, &oid), "cannot read commit \(hex(oid)) in \(path)")
        guard let commit else { throw GitError(kind: .other, message: "cannot read commit \(hex(oid)) in \(path)") }
        return commit
    }

    /// Looks up a tree after checking its loose object; the caller frees it.
    func lookupTree(_ oid: git_oid, _ what: @autoclosure () -> String) throws -> OpaquePointer {
        var oid = oid
        try ensureIntact(oid)
        var tree: OpaquePointer?
        try check(git_tree_lookup(&tree, handle, &oid), "cannot read \(what()) (tree \(hex(oid))) in \(path)")
        guard let tree else { throw GitError(kind: .other, message: "cannot read tree \(hex(oid)) in \(path)") }
        return tree
    }

    public func commitInfo(_ sha: String) throws -> CommitInfo {
        try locked {
            let commit = try lookupCommit(sha)
            defer { git_commit_free(commit) }
            return info(of: commit)
        }
    }

    func info(of commit: OpaquePointer) -> CommitInfo {
        func signature(_ sig: UnsafePointer<git_signature>?) -> (String, String, Int64) {
            guard let sig else { return ("", "", 0) }
            let name = sig.pointee.name.map { String(cString: $0) } ?? ""
            let email = sig.pointee.email.map { String(cString: $0) } ?? ""
            return (name, email, Int64(sig.pointee.when.time))
        }
        let author = signature(git_commit_author(commit))
        let committer = signature(git_commit_committer(commit))
        let parents = (0..<git_commit_parentcount(commit)).compactMap { index in
            git_commit_parent_id(commit, index).map { hex($0) }
        }
        return CommitInfo(
            sha: hex(git_commit_id(commit)), parents: parents,
            authorName: author.0, authorEmail: author.1, authorTime: author.2,
            committerName: committer.0, committerEmail: committer.1, committerTime: committer.2,
            message: git_commit_message(commit).map { String(cString: $0) } ?? "")
    }

    /// First-parent history starting at `sha`, newest first, at most `limit` commits: the sequence of states the
    /// branch actually had, ignoring the internals of merged topic branches.
    public func firstParentHistory(from sha: String, limit: Int = .max) throws -> [CommitInfo] {
        try locked {
            var result: [CommitInfo] = []
            guard limit > 0 else { return result }
            var next: git_oid? = try resolveOID(sha)
            while let oid = next, result.count < limit {
                let commit = try lookupCommit(oid: oid)
                defer { git_commit_free(commit) }
                result.append(info(of: commit))
                next = git_commit_parentcount(commit) > 0 ? git_commit_parent_id(commit, 0)?.pointee : nil
            }
            return result
        }
    }

    // MARK: - Trees

    /// The tree of the commit's `subdirectory` ("" = root); `nil` when that directory does not exist.
    /// The caller frees the tree.
    func tree(ofCommit ref: String, subdirectory: String) throws -> OpaquePointer? {
        let commit = try lookupCommit(ref)
        defer { git_commit_free(commit) }
        let sha = hex(git_commit_id(commit))
        guard let rootID = git_commit_tree_id(commit) else {
            throw GitError(kind: .corruptRepository, message: "commit \(sha) in \(path) has no tree")
        }
        var tree = try lookupTree(rootID.pointee, "the tree of commit \(sha)")
        var walked = ""
        for segment in subdirectory.split(separator: "/").map(String.init) {
            walked += walked.isEmpty ? segment : "/" + segment
            guard let entry = git_tree_entry_byname(tree, segment), git_tree_entry_type(entry) == GIT_OBJECT_TREE,
                let id = git_tree_entry_id(entry)
            else {
                git_tree_free(tree)
                return nil
            }
            let next: OpaquePointer
            do {
                next = try lookupTree(id.pointee, "directory \(walked) of commit \(sha)")
            } catch {
                git_tree_free(tree)
                throw error
            }
            git_tree_free(tree)
            tree = next
        }
        return tree
    }

    /// Files of the commit's tree matching `filter`, sorted by path (byte order), read from the object database.
    /// Blobs larger than `filter.maxFileSize` are not read but listed in `oversized`. Symlinks and submodules
    /// are skipped: their content is not a manifest.
    public func readTree(
        commit sha: String, filter: TreeFilter
    ) throws -> (files: [SourceFile], oversized: [(path: String, size: Int)]) {
        try locked {
            var files: [SourceFile] = []
            var oversized: [(path: String, size: Int)] = []
            guard let tree = try tree(ofCommit: sha, subdirectory: filter.path) else { return ([], []) }
            defer { git_tree_free(tree) }
            var odb: OpaquePointer?
            try check(git_repository_odb(&odb, handle), "cannot open the object database of \(path)")
            defer { git_odb_free(odb) }
            let prefix = filter.path.isEmpty ? "" : filter.path + "/"
            try walk(tree, prefix: prefix) { entry, filePath in
                guard filter.matches(filePath) else { return }
                let oid = git_tree_entry_id(entry)!
                var size = 0
                var type = GIT_OBJECT_INVALID
                try check(
                    git_odb_read_header(&size, &type, odb, oid),
                    "cannot read \(filePath) (blob \(hex(oid))) in \(path)")
                if size > filter.maxFileSize {
                    oversized.append((path: filePath, size: size))
                    return
                }
                files.append(SourceFile(path: filePath, bytes: try readBlob(oid, filePath)))
            }
            files.sort { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
            oversized.sort { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
            return (files, oversized)
        }
    }

    /// The contents of the given repo-relative paths in a commit; paths that are absent (or not regular
    /// files) are missing from the result. Used to read just the files a commit changed.
    public func readFiles(commit sha: String, paths: [String]) throws -> [String: [UInt8]] {
        try locked {
            guard let tree = try tree(ofCommit: sha, subdirectory: "") else { return [:] }
            defer { git_tree_free(tree) }
            var result: [String: [UInt8]] = [:]
            for filePath in paths {
                var entry: OpaquePointer?
                guard git_tree_entry_bypath(&entry, tree, filePath) == 0, let entry else { continue }
                defer { git_tree_entry_free(entry) }
                guard git_tree_entry_type(entry) == GIT_OBJECT_BLOB, git_tree_entry_filemode(entry) != GIT_FILEMODE_LINK,
                    let oid = git_tree_entry_id(entry)
                else { continue }
                result[filePath] = try readBlob(oid, filePath)
            }
            return result
        }
    }

    /// Visits every regular-file blob below `tree` (depth first) with its repo-relative path.
    private func walk(
        _ tree: OpaquePointer, prefix: String, _ visit: (OpaquePointer, String) throws -> Void
    ) throws {
        for index in 0..<git_tree_entrycount(tree) {
            guard let entry = git_tree_entry_byindex(tree, index), let cName = git_tree_entry_name(entry) else {
                continue
            }
            let name = prefix + String(cString: cName)
            switch git_tree_entry_type(entry) {
            case GIT_OBJECT_TREE:
                guard let id = git_tree_entry_id(entry) else { continue }
                let subtree = try lookupTree(id.pointee, "directory \(name)")
                defer { git_tree_free(subtree) }
                try walk(subtree, prefix: name + "/", visit)
            case GIT_OBJECT_BLOB where git_tree_entry_filemode(entry) != GIT_FILEMODE_LINK:
                try visit(entry, name)
            default:
                continue
            }
        }
    }

    private func readBlob(_ oid: UnsafePointer<git_oid>, _ filePath: String) throws -> [UInt8] {
        do {
            try ensureIntact(oid.pointee)
        } catch var error as GitError {
            error.message = "cannot read \(filePath): " + error.message
            throw error
        }
        var blob: OpaquePointer?
        try check(git_blob_lookup(&blob, handle, oid), "cannot read \(filePath) (blob \(hex(oid))) in \(path)")
        defer { git_blob_free(blob) }
        let size = Int(git_blob_rawsize(blob))
        guard size > 0, let content = git_blob_rawcontent(blob) else { return [] }
        return [UInt8](UnsafeRawBufferPointer(start: content, count: size))
    }

    /// Repo-relative paths that differ between two commits (both names of a rename), limited to `filter`;
    /// `from == nil` lists everything in `to`. Sorted (byte order), unique. Compares tree entry ids, so identical
    /// subtrees are skipped without being read and no blob is read at all.
    public func changedPaths(from: String?, to: String, filter: TreeFilter) throws -> [String] {
        try locked {
            let newTree = try tree(ofCommit: to, subdirectory: filter.path)
            defer { git_tree_free(newTree) }
            let oldTree = try from.flatMap { try tree(ofCommit: $0, subdirectory: filter.path) }
            defer { git_tree_free(oldTree) }
            var paths = Set<String>()
            let prefix = filter.path.isEmpty ? "" : filter.path + "/"
            try compare(oldTree, newTree, prefix: prefix) { filePath in
                if filter.matches(filePath) { paths.insert(filePath) }
            }
            return paths.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        }
    }

    private struct EntryInfo {
        var id: git_oid
        var isTree: Bool
        var mode: git_filemode_t
    }

    private func entries(of tree: OpaquePointer?) -> [String: EntryInfo] {
        guard let tree else { return [:] }
        var result: [String: EntryInfo] = [:]
        for index in 0..<git_tree_entrycount(tree) {
            guard let entry = git_tree_entry_byindex(tree, index), let name = git_tree_entry_name(entry),
                let id = git_tree_entry_id(entry)
            else { continue }
            let type = git_tree_entry_type(entry)
            guard type == GIT_OBJECT_TREE || type == GIT_OBJECT_BLOB else { continue }
            result[String(cString: name)] = EntryInfo(
                id: id.pointee, isTree: type == GIT_OBJECT_TREE, mode: git_tree_entry_filemode(entry))
        }
        return result
    }

    /// Reports every file path that is added, deleted or modified between two trees.
    private func compare(
        _ old: OpaquePointer?, _ new: OpaquePointer?, prefix: String, _ report: (String) -> Void
    ) throws {
        let oldEntries = entries(of: old)
        let newEntries = entries(of: new)
        for name in Set(oldEntries.keys).union(newEntries.keys) {
            let before = oldEntries[name], after = newEntries[name]
            if let before, let after, git_oid_equal([before.id], [after.id]) != 0, before.mode == after.mode {
                continue
            }
            let entryPath = prefix + name
            let oldSub = try before.flatMap { $0.isTree ? try lookupTree($0.id, "directory \(entryPath)") : nil }
            defer { git_tree_free(oldSub) }
            let newSub = try after.flatMap { $0.isTree ? try lookupTree($0.id, "directory \(entryPath)") : nil }
            defer { git_tree_free(newSub) }
            if oldSub != nil || newSub != nil {
                try compare(oldSub, newSub, prefix: entryPath + "/", report)
            }
            // A file on either side (including a file replaced by a directory or the reverse).
            if before?.isTree == false || after?.isTree == false { report(entryPath) }
        }
    }
}
