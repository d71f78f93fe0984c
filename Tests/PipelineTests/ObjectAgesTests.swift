import Foundation
import GitSource
import Manifests
import Pipeline
import RouteModel
import Testing

/// Ages come from real history: repositories made with libgit2 in a temporary directory.
struct ObjectAgesTests {
    static func ingress(_ name: String, host: String = "shop.example.com", path: String = "/", service: String = "web") -> String {
        """
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: \(name)}
        spec:
          rules: [{host: \(host), http: {paths: [{path: \(path), pathType: Prefix, backend: {service: {name: \(service), port: {number: 80}}}}]}}]

        """
    }

    @Test func olderIngressWinsEvenWhenItsNameSortsLater() throws {
        let dir = try TemporaryDirectory()
        let repo = try GitRepository.create(at: dir.path)
        _ = try repo.commit(files: ["z.yaml": Array(Self.ingress("z-first", service: "old").utf8)], message: "first\n")
        _ = try repo.commit(
            files: [
                "z.yaml": Array(Self.ingress("z-first", service: "old").utf8),
                "a.yaml": Array(Self.ingress("a-second", service: "new").utf8),
            ], message: "second\n")
        let state = try DesiredStateLoader.load(RepositoryOptions(repository: dir.path))
        let route = state.table.match(RequestFacts(host: "shop.example.com", path: "/"))?.route
        #expect(route?.source.object == "Ingress/default/z-first")
        #expect(state.diagnostics.contains { $0.message.contains("conflicts with Ingress default/z-first") })
    }

    @Test func movingAnObjectToAnotherFileKeepsItsAge() throws {
        let dir = try TemporaryDirectory()
        let repo = try GitRepository.create(at: dir.path)
        _ = try repo.commit(files: ["one.yaml": Array(Self.ingress("z-old", service: "old").utf8)], message: "1\n")
        _ = try repo.commit(
            files: [
                "one.yaml": Array(Self.ingress("z-old", service: "old").utf8),
                "two.yaml": Array(Self.ingress("a-young", service: "young").utf8),
            ], message: "2\n")
        // z-old moves to a new file in the same commit that deletes the old one.
        _ = try repo.commit(
            files: [
                "moved/z.yaml": Array(Self.ingress("z-old", service: "old").utf8),
                "two.yaml": Array(Self.ingress("a-young", service: "young").utf8),
            ], message: "3\n")
        let state = try DesiredStateLoader.load(RepositoryOptions(repository: dir.path))
        #expect(state.table.match(RequestFacts(host: "shop.example.com", path: "/"))?.route.source.object == "Ingress/default/z-old")
    }

    @Test func aRemovedAndReaddedObjectIsYoungAgain() throws {
        let dir = try TemporaryDirectory()
        let repo = try GitRepository.create(at: dir.path)
        _ = try repo.commit(files: ["z.yaml": Array(Self.ingress("z-comeback", service: "back").utf8)], message: "1\n")
        _ = try repo.commit(files: ["a.yaml": Array(Self.ingress("a-steady", service: "steady").utf8)], message: "2\n")
        _ = try repo.commit(
            files: [
                "a.yaml": Array(Self.ingress("a-steady", service: "steady").utf8),
                "z.yaml": Array(Self.ingress("z-comeback", service: "back").utf8),
            ], message: "3\n")
        let state = try DesiredStateLoader.load(RepositoryOptions(repository: dir.path))
        #expect(state.table.match(RequestFacts(host: "shop.example.com", path: "/"))?.route.source.object == "Ingress/default/a-steady")
    }

    @Test func sameCommitCompilesToIdenticalBytes() throws {
        let dir = try TemporaryDirectory()
        let repo = try GitRepository.create(at: dir.path)
        var files: [String: [UInt8]] = [:]
        for i in 0..<20 { files["f\(i).yaml"] = Array(Self.ingress("i\(i)", host: "h\(i % 3).example.com", path: "/p\(i)").utf8) }
        let sha = try repo.commit(files: files, message: "many\n")
        let a = try DesiredStateLoader.load(RepositoryOptions(repository: dir.path), revision: sha).table.canonicalJSON()
        let b = try DesiredStateLoader.load(RepositoryOptions(repository: dir.path)).table.canonicalJSON()
        #expect(a == b)
        #expect(a.contains("\"revision\" : \"\(sha)\""))
    }

    @Test func pathFilterLimitsTheManifests() throws {
        let dir = try TemporaryDirectory()
        let repo = try GitRepository.create(at: dir.path)
        _ = try repo.commit(
            files: [
                "prod/a.yaml": Array(Self.ingress("a", host: "prod.example.com").utf8),
                "staging/b.yaml": Array(Self.ingress("b", host: "staging.example.com").utf8),
                "prod/notes.txt": Array("not yaml".utf8),
            ], message: "layout\n")
        let state = try DesiredStateLoader.load(RepositoryOptions(repository: dir.path, path: "prod"))
        #expect(state.table.virtualHosts.map(\.host) == ["prod.example.com"])
        #expect(state.fileCount == 1)
    }

    @Test func unknownRevisionIsAnEnvironmentError() throws {
        let dir = try TemporaryDirectory()
        let repo = try GitRepository.create(at: dir.path)
        _ = try repo.commit(files: ["a.yaml": Array(Self.ingress("a").utf8)], message: "1\n")
        #expect(throws: GitError.self) {
            try DesiredStateLoader.load(RepositoryOptions(repository: dir.path), revision: "no-such-branch")
        }
    }
}

/// A temporary directory removed when the value goes away.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "gitway-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
