import Foundation
import Testing

@testable import GitSource

/// Remote cases run over file:// against repositories built with `GitRepository.commit`.
@Suite struct GitSourceTests {
    @Test func cacheFetchSeesNewCommitsAndReportsMovement() throws {
        try TemporaryDirectory.with { tmp in
            let upstream = try GitRepository.create(at: tmp.appending("upstream.git"), bare: true)
            let c1 = try upstream.commit(files: ["a.yaml": bytes("1")], message: "c1")
            let url = "file://" + upstream.path

            let cache = try GitRepository.cache(url: url, in: tmp.appending("cache"), credentials: .none)
            #expect(cache.isBare)
            #expect(try cache.originURL() == url)
            #expect(cache.path.hasPrefix(tmp.appending("cache") + "/upstream-"))
            #expect(try cache.resolve("main") == c1)
            #expect(try cache.resolve("HEAD") == c1)

            let unchanged = try cache.fetch(branch: "main", credentials: .none)
            #expect(unchanged == FetchResult(previousTip: c1, tip: c1))
            #expect(!unchanged.moved)

            let c2 = try upstream.commit(files: ["a.yaml": bytes("2")], message: "c2")
            try upstream.createTag("v2", at: c2, message: "v2")
            let moved = try cache.fetch(branch: "main", credentials: .none)
            #expect(moved.previousTip == c1 && moved.tip == c2 && moved.moved)
            #expect(try cache.resolve("v2") == c2)
            #expect(try cache.resolve("origin/main") == c2)

            // Reopening the same URL reuses the cache directory.
            // A plain absolute path is a remote too (cloned, not read in place) and gets its own cache.
            let byPath = try GitRepository.cache(url: upstream.path, in: tmp.appending("cache"), credentials: .none)
            #expect(byPath.path != cache.path)
            #expect(try byPath.resolve("main") == c2)

            let again = try GitRepository.cache(url: url, in: tmp.appending("cache"), credentials: .none)
            #expect(again.path == cache.path)
            #expect(!again.freshlyCloned)
            #expect(try again.resolve("main") == c2)

            // Branches deleted upstream are pruned from the cache.
            try upstream.setBranch("doomed", to: c1)
            _ = try cache.fetch(branch: "main", credentials: .none)
            #expect(try cache.resolve("origin/doomed") == c1)
            try upstream.deleteBranch("doomed")
            _ = try cache.fetch(branch: "main", credentials: .none)
            #expect(throws: GitError.self) { try cache.resolve("origin/doomed") }
            #expect(throws: GitError.self) { try upstream.deleteBranch("doomed") }

            #expect { try cache.fetch(branch: "nope", credentials: .none) } throws: { error in
                guard let error = error as? GitError else { return false }
                return error.kind == .unknownRef && error.remote == url && "\(error)".contains("'nope'")
            }
        }
    }

    @Test func fetchFollowsForcePush() throws {
        try TemporaryDirectory.with { tmp in
            let upstream = try GitRepository.create(at: tmp.appending("up"), bare: true)
            _ = try upstream.commit(files: ["a.yaml": bytes("1")], message: "c1")
            let c2 = try upstream.commit(files: ["a.yaml": bytes("2")], message: "c2")
            let url = "file://" + upstream.path
            let cache = try GitRepository.cache(url: url, in: tmp.appending("c"), credentials: .none)
            #expect(try cache.resolve("main") == c2)

            let unrelated = try upstream.commit(
                files: ["b.yaml": bytes("x")], message: "rewrite", branch: "tmp",
                parents: [])
            try upstream.setBranch("main", to: unrelated)
            let result = try cache.fetch(branch: "main", credentials: .none)
            #expect(result == FetchResult(previousTip: c2, tip: unrelated))
            #expect(try cache.readTree(commit: "main", filter: .manifests).files.map(\.path) == ["b.yaml"])
        }
    }

    @Test func remoteGitSourceArtifacts() throws {
        try TemporaryDirectory.with { tmp in
            let upstream = try GitRepository.create(at: tmp.appending("routing"))
            let c1 = try upstream.commit(
                files: [
                    "k8s/ingress.yaml": bytes("kind: Ingress\n"), "k8s/readme.md": bytes("x"), "ci.yaml": bytes("y"),
                ], message: "first")
            let source = GitSource(
                repository: "file://" + upstream.path, filter: TreeFilter(path: "k8s"),
                stateDirectory: tmp.appending("state"))
            #expect(source.isRemote)

            let first = try source.artifact()
            #expect(first.changed)
            #expect(first.artifact.commit.sha == c1)
            #expect(first.artifact.branch == "main")
            #expect(first.artifact.revision == "main@sha1:\(c1)")
            #expect(first.artifact.files == [SourceFile(path: "k8s/ingress.yaml", bytes: bytes("kind: Ingress\n"))])
            #expect(first.artifact.digest == SourceArtifact.digest(of: first.artifact.files))
            #expect(FileManager.default.fileExists(atPath: tmp.appending("state/git")))

            let same = try source.artifact()
            #expect(!same.changed)
            #expect(same.artifact.digest == first.artifact.digest)

            let c2 = try upstream.commit(
                files: ["k8s/ingress.yaml": bytes("kind: Ingress\nmetadata: {}\n")],
                message: "second")
            let second = try source.artifact()
            #expect(second.changed)
            #expect(second.artifact.commit.sha == c2)
            #expect(second.artifact.digest != first.artifact.digest)

            let pinned = try source.artifact(at: c1)
            #expect(pinned.changed)
            #expect(pinned.artifact.revision == "sha1:\(c1)")
            #expect(pinned.artifact.digest == first.artifact.digest)

            #expect { try source.artifact(at: "nope") } throws: { error in
                (error as? GitError)?.kind == .unknownRef && "\(error)".contains("'nope'")
            }

            // A second instance on the same state directory reuses the cache.
            let other = GitSource(repository: "file://" + upstream.path, stateDirectory: tmp.appending("state"))
            #expect(try other.open().resolve("main") == c2)
        }
    }

    @Test func localGitSourceReadsInPlace() throws {
        try TemporaryDirectory.with { tmp in
            let repo = try GitRepository.create(at: tmp.appending("local"))
            let c1 = try repo.commit(files: ["a.yaml": bytes("a"), "b.yml": bytes("b")], message: "c1")
            let source = GitSource(repository: repo.path, stateDirectory: nil)
            #expect(!source.isRemote)
            #expect(try source.open().path == repo.path)
            let result = try source.artifact()
            #expect(result.changed)
            #expect(result.artifact.commit.sha == c1)
            #expect(result.artifact.files.map(\.path) == ["a.yaml", "b.yml"])
            #expect(result.artifact.oversized.isEmpty)
            #expect(try !source.artifact().changed)
            let c2 = try repo.commit(files: ["a.yaml": bytes("a2")], message: "c2")
            #expect(try source.artifact().artifact.commit.sha == c2)
        }
    }

    @Test func missingRemoteNamesTheRemote() throws {
        try TemporaryDirectory.with { tmp in
            let url = "file://" + tmp.appending("does-not-exist.git")
            #expect { try GitRepository.cache(url: url, in: tmp.appending("c"), credentials: .none) } throws: { error in
                guard let error = error as? GitError else { return false }
                return error.remote == url && error.description.contains(url) && error.kind == .network
            }
            // Nothing half-cloned is left behind.
            let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: tmp.appending("c"))) ?? []
            #expect(leftovers.isEmpty)

            let source = GitSource(repository: url, stateDirectory: tmp.appending("state"))
            #expect(throws: GitError.self) { try source.artifact() }

            let path = tmp.appending("nowhere.git")
            #expect { try GitRepository.cache(url: path, in: tmp.appending("c"), credentials: .none) } throws: {
                ($0 as? GitError)?.remote == path && "\($0)".contains("cannot fetch \(path)")
            }
        }
    }

    @Test func remoteErrorsDoNotLeakPasswords() throws {
        try TemporaryDirectory.with { tmp in
            // Port 1 on loopback refuses connections immediately.
            let url = "https://robot:s3cr3t-token@127.0.0.1:1/org/repo.git"
            #expect {
                try GitRepository.cache(url: url, in: tmp.path, credentials: .token("tok-123"))
            } throws: { error in
                guard let error = error as? GitError else { return false }
                return error.kind == .network && error.remote == "https://127.0.0.1:1/org/repo.git"
                    && !error.description.contains("s3cr3t") && !error.description.contains("tok-123")
                    && error.description.contains("127.0.0.1:1/org/repo.git")
            }
        }
    }
}
