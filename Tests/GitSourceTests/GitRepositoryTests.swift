import Foundation
import Testing

@testable import GitSource

@Suite struct GitRepositoryTests {
    @Test func createOpenAndCommitMetadata() throws {
        try TemporaryDirectory.with { tmp in
            let repo = try GitRepository.create(at: tmp.appending("work"))
            let first = try repo.commit(files: ["a.yaml": bytes("a: 1\n")], message: "first\n", time: 1_600_000_000)
            let sha = try repo.commit(
                files: ["a.yaml": bytes("a: 2\n")], message: "Subject line\n\nBody text\n",
                author: ("Ann Author", "ann@example.com"), time: 1_700_000_000)
            let info = try repo.commitInfo(sha)
            #expect(info.sha == sha)
            #expect(info.parents == [first])
            #expect(info.authorName == "Ann Author")
            #expect(info.authorEmail == "ann@example.com")
            #expect(info.authorTime == 1_700_000_000)
            #expect(info.committerName == "Ann Author")
            #expect(info.committerTime == 1_700_000_000)
            #expect(info.message == "Subject line\n\nBody text\n")
            #expect(info.summary == "Subject line")

            // HEAD follows the branch; a reopened handle sees the same state.
            let reopened = try GitRepository.open(tmp.appending("work"))
            #expect(try reopened.resolve("HEAD") == sha)
            #expect(try reopened.resolve("main") == sha)
            #expect(try reopened.resolve("refs/heads/main") == sha)
            #expect(!reopened.isBare)
        }
    }

    @Test func openRejectsNonRepositories() throws {
        try TemporaryDirectory.with { tmp in
            #expect {
                try GitRepository.open(tmp.path)
            } throws: { error in
                (error as? GitError)?.kind == .notARepository && "\(error)".contains(tmp.path)
            }
            #expect(throws: GitError.self) { try GitRepository.open(tmp.appending("missing")) }
        }
    }

    @Test func unknownRefNamesTheRefAndRepository() throws {
        try TemporaryDirectory.with { tmp in
            let repo = try GitRepository.create(at: tmp.appending("r"), bare: true)
            #expect { try repo.resolve("main") } throws: { ($0 as? GitError)?.kind == .unknownRef }
            try repo.commit(files: ["a.yaml": bytes("x")], message: "m")
            for ref in ["nope", "refs/heads/nope", "deadbeef", String(repeating: "0", count: 40), "a b", ""] {
                #expect(
                    performing: { try repo.resolve(ref) },
                    throws: { error in
                        guard let error = error as? GitError else { return false }
                        return error.kind == .unknownRef && error.description.contains("'\(ref)'")
                            && error.description.contains(repo.path)
                    })
            }
            #expect(throws: GitError.self) { try repo.commitInfo("nope") }
        }
    }

    @Test func tagsAndAbbreviatedShas() throws {
        try TemporaryDirectory.with { tmp in
            let repo = try GitRepository.create(at: tmp.appending("r"), bare: true)
            let c1 = try repo.commit(files: ["a.yaml": bytes("1")], message: "one")
            let c2 = try repo.commit(files: ["a.yaml": bytes("2")], message: "two")
            try repo.createTag("v1", at: c1, message: "release 1\n")
            try repo.createTag("v2", at: c2)
            #expect(try repo.resolve("v1") == c1)
            #expect(try repo.resolve("refs/tags/v1") == c1)
            #expect(try repo.resolve("v2") == c2)
            #expect(throws: GitError.self) { try repo.createTag("v2", at: c1) }

            #expect(try repo.resolve(String(c1.prefix(7))) == c1)
            #expect(try repo.resolve(String(c2.prefix(4))) == c2 || c1.prefix(4) == c2.prefix(4))
            #expect(try repo.resolve(c1.uppercased()) == c1)
            #expect { try repo.resolve(String(c1.prefix(3))) } throws: { ($0 as? GitError)?.kind == .unknownRef }
        }
    }

    @Test func readTreeAppliesPathAndGlobs() throws {
        try TemporaryDirectory.with { tmp in
            let repo = try GitRepository.create(at: tmp.appending("r"))
            let sha = try repo.commit(
                files: [
                    "routing/b.yaml": bytes("b"),
                    "routing/a.yaml": bytes("a"),
                    "routing/x/c.yml": bytes("c"),
                    "routing/x/skip.yaml": bytes("skip"),
                    "routing/README.md": bytes("readme"),
                    "other/d.yaml": bytes("d"),
                    "top.yaml": bytes("top"),
                    "empty.yaml": [],
                ], message: "tree")

            let all = try repo.readTree(commit: sha, filter: .manifests)
            #expect(
                all.files.map(\.path) == [
                    "empty.yaml", "other/d.yaml", "routing/a.yaml", "routing/b.yaml", "routing/x/c.yml",
                    "routing/x/skip.yaml", "top.yaml",
                ])
            #expect(all.files.first?.bytes == [])
            #expect(all.oversized.isEmpty)

            let filter = TreeFilter(path: "/routing/", exclude: ["**/skip.yaml"])
            let routing = try repo.readTree(commit: sha, filter: filter)
            #expect(
                routing.files == [
                    SourceFile(path: "routing/a.yaml", bytes: bytes("a")),
                    SourceFile(path: "routing/b.yaml", bytes: bytes("b")),
                    SourceFile(path: "routing/x/c.yml", bytes: bytes("c")),
                ])

            let onlyTop = try repo.readTree(commit: sha, filter: TreeFilter(include: ["*.yaml"]))
            #expect(onlyTop.files.map(\.path) == ["empty.yaml", "top.yaml"])

            let missing = try repo.readTree(commit: sha, filter: TreeFilter(path: "nowhere"))
            #expect(missing.files.isEmpty)
            let fileAsDirectory = try repo.readTree(commit: sha, filter: TreeFilter(path: "top.yaml"))
            #expect(fileAsDirectory.files.isEmpty)
        }
    }

    @Test func oversizedFilesAreReportedNotRead() throws {
        try TemporaryDirectory.with { tmp in
            let repo = try GitRepository.create(at: tmp.appending("r"), bare: true)
            let sha = try repo.commit(
                files: [
                    "big.yaml": [UInt8](repeating: 0x61, count: 11),
                    "fits.yaml": [UInt8](repeating: 0x62, count: 10),
                ], message: "sizes")
            let result = try repo.readTree(commit: sha, filter: TreeFilter(maxFileSize: 10))
            #expect(result.files.map(\.path) == ["fits.yaml"])
            #expect(result.oversized.count == 1)
            #expect(result.oversized.first?.path == "big.yaml")
            #expect(result.oversized.first?.size == 11)
        }
    }

    @Test func changedPathsCoversAddModifyDeleteRename() throws {
        try TemporaryDirectory.with { tmp in
            let repo = try GitRepository.create(at: tmp.appending("r"), bare: true)
            let old = try repo.commit(
                files: [
                    "m/a.yaml": bytes("a1"), "m/b.yaml": bytes("b"), "m/c.yaml": bytes("rename me, I am long enough"),
                    "m/d.yaml": bytes("same"), "m/notes.txt": bytes("x"), "z.yaml": bytes("z1"),
                ], message: "old")
            let new = try repo.commit(
                files: [
                    "m/a.yaml": bytes("a2"), "m/e.yaml": bytes("rename me, I am long enough"),
                    "m/d.yaml": bytes("same"), "m/f.yaml": bytes("new"), "m/notes.txt": bytes("y"), "z.yaml": bytes("z2"),
                ], message: "new")
            #expect(
                try repo.changedPaths(from: old, to: new, filter: .manifests) == [
                    "m/a.yaml", "m/b.yaml", "m/c.yaml", "m/e.yaml", "m/f.yaml", "z.yaml",
                ])
            #expect(
                try repo.changedPaths(from: old, to: new, filter: TreeFilter(path: "m")) == [
                    "m/a.yaml", "m/b.yaml", "m/c.yaml", "m/e.yaml", "m/f.yaml",
                ])
            #expect(
                try repo.changedPaths(from: nil, to: new, filter: TreeFilter(path: "m")) == [
                    "m/a.yaml", "m/d.yaml", "m/e.yaml", "m/f.yaml",
                ])
            #expect(try repo.changedPaths(from: new, to: new, filter: .manifests).isEmpty)
            #expect(try repo.changedPaths(from: old, to: new, filter: TreeFilter(path: "absent")).isEmpty)
        }
    }

    @Test func firstParentHistorySkipsMergedTopic() throws {
        try TemporaryDirectory.with { tmp in
            let repo = try GitRepository.create(at: tmp.appending("r"), bare: true)
            let c1 = try repo.commit(files: ["a": bytes("1")], message: "c1", time: 100)
            let c2 = try repo.commit(files: ["a": bytes("2")], message: "c2", time: 200)
            let t1 = try repo.commit(
                files: ["a": bytes("2"), "t": bytes("t")], message: "t1", branch: "topic",
                parents: [c2], time: 300)
            let c3 = try repo.commit(files: ["a": bytes("3")], message: "c3", time: 400)
            let merge = try repo.commit(
                files: ["a": bytes("3"), "t": bytes("t")], message: "merge topic",
                parents: [c3, t1], time: 500)
            #expect(try repo.resolve("main") == merge)
            #expect(try repo.resolve("topic") == t1)
            #expect(try repo.commitInfo(merge).parents == [c3, t1])

            let history = try repo.firstParentHistory(from: "main")
            #expect(history.map(\.sha) == [merge, c3, c2, c1])
            #expect(!history.contains { $0.sha == t1 })
            #expect(try repo.firstParentHistory(from: merge, limit: 2).map(\.summary) == ["merge topic", "c3"])
            #expect(try repo.firstParentHistory(from: c1, limit: 5).map(\.sha) == [c1])
            #expect(try repo.firstParentHistory(from: merge, limit: 0).isEmpty)
        }
    }

    @Test func setBranchForceMoves() throws {
        try TemporaryDirectory.with { tmp in
            let repo = try GitRepository.create(at: tmp.appending("r"), bare: true)
            let c1 = try repo.commit(files: ["a": bytes("1")], message: "c1")
            _ = try repo.commit(files: ["a": bytes("2")], message: "c2")
            try repo.setBranch("main", to: c1)
            #expect(try repo.resolve("main") == c1)
            try repo.setBranch("release", to: c1)
            #expect(try repo.resolve("release") == c1)
        }
    }

    @Test func invalidCommitPathsAreRejected() throws {
        try TemporaryDirectory.with { tmp in
            let repo = try GitRepository.create(at: tmp.appending("r"), bare: true)
            for files in [["a//b": bytes("x")], ["../x": bytes("x")], ["a": bytes("x"), "a/b": bytes("y")]] {
                #expect(throws: GitError.self) { try repo.commit(files: files, message: "bad") }
            }
            let empty = try repo.commit(files: [:], message: "empty tree")
            #expect(try repo.readTree(commit: empty, filter: .manifests).files.isEmpty)
        }
    }

    @Test func notesRoundTrip() throws {
        try TemporaryDirectory.with { tmp in
            let repo = try GitRepository.create(at: tmp.appending("r"))
            let c1 = try repo.commit(files: ["a": bytes("1")], message: "c1")
            let c2 = try repo.commit(files: ["a": bytes("2")], message: "c2")
            #expect(try repo.note(on: c1) == nil)
            try repo.addNote(to: c1, message: "applied ok\n")
            #expect(try repo.note(on: c1) == "applied ok\n")
            #expect(try repo.note(on: c2) == nil)
            #expect(try repo.note(on: c1, namespace: "other") == nil)
            #expect(throws: GitError.self) { try repo.addNote(to: c1, message: "again", overwrite: false) }
            try repo.addNote(to: c1, message: "rolled back")
            #expect(try repo.note(on: c1) == "rolled back")
            try repo.addNote(to: c2, namespace: "other", message: "x")
            #expect(try repo.note(on: c2, namespace: "other") == "x")
        }
    }

    @Test func corruptObjectsGiveErrorsNotCrashes() throws {
        try TemporaryDirectory.with { tmp in
            let repo = try GitRepository.create(at: tmp.appending("r"), bare: true)
            let content = bytes("kind: Ingress\n")
            let sha = try repo.commit(files: ["a.yaml": content], message: "c")
            let objects = tmp.appending("r/objects")

            // A blob whose loose object is overwritten with garbage: reading the tree must fail cleanly.
            let blob = SHA1.hash(bytes("blob \(content.count)\0") + content).hexString
            let blobFile = "\(objects)/\(blob.prefix(2))/\(blob.dropFirst(2))"
            #expect(FileManager.default.fileExists(atPath: blobFile))
            try FileManager.default.removeItem(atPath: blobFile)
            try Data("this is not zlib".utf8).write(to: URL(fileURLWithPath: blobFile))
            #expect { try repo.readTree(commit: sha, filter: .manifests) } throws: { error in
                guard let error = error as? GitError else { return false }
                return error.kind == .corruptRepository && error.description.contains("a.yaml")
            }

            // A truncated commit object.
            let commitFile = "\(objects)/\(sha.prefix(2))/\(sha.dropFirst(2))"
            let data = try Data(contentsOf: URL(fileURLWithPath: commitFile))
            try FileManager.default.removeItem(atPath: commitFile)
            try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: commitFile))
            let fresh = try GitRepository.open(tmp.appending("r"))
            #expect { try fresh.commitInfo(sha) } throws: { ($0 as? GitError)?.kind == .corruptRepository }
            // Asking again must fail again (libgit2 1.5 would loop forever on the truncated object).
            #expect { try fresh.readTree(commit: "main", filter: .manifests) } throws: {
                ($0 as? GitError)?.kind == .corruptRepository
            }
            #expect { try fresh.firstParentHistory(from: sha) } throws: {
                ($0 as? GitError)?.kind == .corruptRepository
            }
        }
    }

    @Test func truncatedBlobIsCorruptionNotAHang() throws {
        try TemporaryDirectory.with { tmp in
            let repo = try GitRepository.create(at: tmp.appending("r"))
            let content = [UInt8]((0..<4000).map { UInt8(truncatingIfNeeded: $0 &* 7919 >> 3) })
            let sha = try repo.commit(files: ["m/a.yaml": content, "m/b.yaml": bytes("b")], message: "c")
            let blob = SHA1.hash(bytes("blob \(content.count)\0") + content).hexString
            let blobFile = tmp.appending("r/.git/objects/\(blob.prefix(2))/\(blob.dropFirst(2))")
            let data = try Data(contentsOf: URL(fileURLWithPath: blobFile))
            try FileManager.default.removeItem(atPath: blobFile)
            try data.prefix(data.count - 8).write(to: URL(fileURLWithPath: blobFile))
            for _ in 0..<2 {
                #expect { try repo.readTree(commit: sha, filter: .manifests) } throws: { error in
                    guard let error = error as? GitError else { return false }
                    return error.kind == .corruptRepository && error.description.contains("m/a.yaml")
                        && error.description.contains(blob)
                }
            }
            // Paths and history do not need the blob's content.
            #expect(try repo.changedPaths(from: nil, to: sha, filter: .manifests) == ["m/a.yaml", "m/b.yaml"])
            #expect(try repo.readTree(commit: sha, filter: TreeFilter(exclude: ["**/a.yaml"])).files.count == 1)
        }
    }
}
