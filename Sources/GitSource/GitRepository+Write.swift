import CGit2
import Foundation

extension GitRepository {
    /// Creates a commit whose tree is exactly `files` (nested paths become subtrees) on `branch`, with the
    /// branch's current tip as parent (none if unborn) unless `parents` is given, and moves the branch to it
    /// (HEAD follows when it points at the branch). Works on bare repositories; the work tree is not touched.
    /// Used by tests and the benchmark generator to build histories without a `git` binary.
    @discardableResult
    public func commit(
        files: [String: [UInt8]], message: String, branch: String = "main", parents: [String]? = nil,
        author: (name: String, email: String) = ("Gitway Test", "test@gitway.invalid"), time: Int64? = nil
    ) throws -> String {
        try locked {
            let branchRef = "refs/heads/\(branch)"
            var parentIDs: [git_oid] = []
            if let parents {
                parentIDs = try parents.map { try resolveOID($0) }
            } else if let tip = try referenceTarget(branchRef) {
                parentIDs = [tip]
            }
            var treeID = try writeTree(try TreeNode(files: files))
            var tree: OpaquePointer?
            try check(git_tree_lookup(&tree, handle, &treeID), "cannot read the new tree in \(path)")
            defer { git_tree_free(tree) }

            var parentCommits: [OpaquePointer?] = []
            defer { parentCommits.forEach { git_commit_free($0) } }
            for var id in parentIDs {
                var parent: OpaquePointer?
                try check(git_commit_lookup(&parent, handle, &id), "cannot read parent commit \(hex(id)) in \(path)")
                parentCommits.append(parent)
            }
            let signature = try makeSignature(name: author.name, email: author.email, time: time)
            defer { git_signature_free(signature) }
            var commitID = git_oid()
            try check(
                git_commit_create(
                    &commitID, handle, nil, signature, signature, nil, message, tree,
                    parentCommits.count, &parentCommits),
                "cannot create a commit in \(path)")
            try moveReference(branchRef, to: &commitID, log: "commit: \(message.prefix(60))")
            return hex(commitID)
        }
    }

    /// Force-moves `branch` to `sha` (what a force-push does on the server).
    public func setBranch(_ branch: String, to sha: String) throws {
        try locked {
            var oid = try resolveOID(sha)
            try moveReference("refs/heads/\(branch)", to: &oid, log: "gitway: set branch")
        }
    }

    /// Deletes `refs/heads/<branch>` (what deleting a branch on the server does).
    public func deleteBranch(_ branch: String) throws {
        try locked {
            let name = "refs/heads/\(branch)"
            guard try referenceTarget(name) != nil else { throw unknownRef(branch) }
            try check(git_reference_remove(handle, name), "cannot delete branch \(branch) in \(path)")
        }
    }

    /// Creates a tag: annotated (a tag object with tagger and message) when `message` is given, else lightweight.
    /// An existing tag of that name is an error, as tags are meant to be immutable.
    public func createTag(_ name: String, at sha: String, message: String? = nil) throws {
        try locked {
            var oid = try resolveOID(sha)
            var target: OpaquePointer?
            try check(git_object_lookup(&target, handle, &oid, GIT_OBJECT_ANY), "cannot read \(sha) in \(path)")
            defer { git_object_free(target) }
            var tagID = git_oid()
            if let message {
                let tagger = try makeSignature(name: "Gitway", email: "gitway@gitway.invalid", time: nil)
                defer { git_signature_free(tagger) }
                try check(
                    git_tag_create(&tagID, handle, name, target, tagger, message, 0),
                    "cannot create tag '\(name)' in \(path)")
            } else {
                try check(
                    git_tag_create_lightweight(&tagID, handle, name, target, 0),
                    "cannot create tag '\(name)' in \(path)")
            }
        }
    }

    func moveReference(_ name: String, to oid: inout git_oid, log: String) throws {
        var reference: OpaquePointer?
        try check(git_reference_create(&reference, handle, name, &oid, 1, log), "cannot update \(name) in \(path)")
        git_reference_free(reference)
    }

    /// A signature with UTC offset 0, so generated commits are reproducible when `time` is fixed.
    func makeSignature(name: String, email: String, time: Int64?) throws -> UnsafeMutablePointer<git_signature> {
        var signature: UnsafeMutablePointer<git_signature>?
        let seconds = time ?? Int64(Date().timeIntervalSince1970)
        try check(
            git_signature_new(&signature, name, email, git_time_t(seconds), 0),
            "invalid signature \(name) <\(email)>")
        guard let signature else { throw GitError(kind: .other, message: "cannot create signature") }
        return signature
    }

    /// Writes `node` bottom-up as blobs and trees; returns the tree id.
    private func writeTree(_ node: TreeNode) throws -> git_oid {
        var builder: OpaquePointer?
        try check(git_treebuilder_new(&builder, handle, nil), "cannot build a tree in \(path)")
        defer { git_treebuilder_free(builder) }
        for (name, bytes) in node.files {
            var blobID = git_oid()
            // libgit2 wants a valid pointer even for an empty blob; an empty array may have none.
            let storage = bytes.isEmpty ? [0] : bytes
            let rc = storage.withUnsafeBytes { buffer -> Int32 in
                git_blob_create_from_buffer(&blobID, handle, buffer.baseAddress, bytes.count)
            }
            try check(rc, "cannot write blob \(name) in \(path)")
            try check(
                git_treebuilder_insert(nil, builder, name, &blobID, GIT_FILEMODE_BLOB),
                "cannot add \(name) to a tree in \(path)")
        }
        for (name, child) in node.directories {
            var subtreeID = try writeTree(child)
            try check(
                git_treebuilder_insert(nil, builder, name, &subtreeID, GIT_FILEMODE_TREE),
                "cannot add \(name)/ to a tree in \(path)")
        }
        var treeID = git_oid()
        try check(git_treebuilder_write(&treeID, builder), "cannot write a tree in \(path)")
        return treeID
    }
}

/// The directory structure of a commit being written.
private final class TreeNode {
    var files: [String: [UInt8]] = [:]
    var directories: [String: TreeNode] = [:]

    init() {}

    convenience init(files: [String: [UInt8]]) throws {
        self.init()
        for (path, bytes) in files {
            let segments = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            let invalid: Set<String> = ["", ".", "..", ".git"]
            guard !segments.isEmpty, !segments.contains(where: invalid.contains)
            else { throw GitError(kind: .other, message: "invalid file path '\(path)' for a commit") }
            var node = self
            for segment in segments.dropLast() {
                guard node.files[segment] == nil else {
                    throw GitError(
                        kind: .other, message: "'\(path)' needs '\(segment)' to be both a file and a directory")
                }
                if let next = node.directories[segment] {
                    node = next
                } else {
                    let next = TreeNode()
                    node.directories[segment] = next
                    node = next
                }
            }
            let name = segments[segments.count - 1]
            guard node.directories[name] == nil else {
                throw GitError(kind: .other, message: "'\(path)' is both a file and a directory")
            }
            node.files[name] = bytes
        }
    }
}
