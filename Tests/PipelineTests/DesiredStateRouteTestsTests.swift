import Foundation
import GitSource
import Pipeline
import RouteModel
import Testing

/// Route tests travel with the desired state, in Git and plain-directory mode alike.
struct DesiredStateRouteTestsTests {
    static let ingress = ObjectAgesTests.ingress("shop")
    static let passing = "tests:\n- {name: root, request: {host: shop.example.com, path: /}, expect: {backend: web}}\n"
    static let failing = "tests:\n- {name: root, request: {host: shop.example.com, path: /}, expect: {backend: api}}\n"
    static let broken = "tests:\n- {name: root, request: {host: shop.example.com}, expect: {backend: web}}\n"

    @Test func gitRevisionRunsItsRouteTests() throws {
        let dir = try TemporaryDirectory()
        let repo = try GitRepository.create(at: dir.path)
        try repo.commit(files: ["a.yaml": Array(Self.ingress.utf8), "a.routetest.yaml": Array(Self.passing.utf8)], message: "1\n")
        let good = try DesiredStateLoader.load(RepositoryOptions(repository: dir.path))
        #expect(good.routeTests.results.count == 1)
        #expect(good.isValid && good.testsPassed && good.isAcceptable)
        #expect(good.manifests.objects.count == 1, "a route test file is not a manifest")

        try repo.commit(files: ["a.yaml": Array(Self.ingress.utf8), "a.routetest.yaml": Array(Self.failing.utf8)], message: "2\n")
        let bad = try DesiredStateLoader.load(RepositoryOptions(repository: dir.path))
        #expect(bad.isValid, "failing tests are not diagnostics of the manifests")
        #expect(!bad.testsPassed && !bad.isAcceptable)
        #expect(bad.routeTestFailures.map(\.description) == ["a.routetest.yaml:2:3: error: test \"root\": expected backend api, got web"])

        try repo.commit(files: ["a.yaml": Array(Self.ingress.utf8), "a.routetest.yaml": Array(Self.broken.utf8)], message: "3\n")
        let invalid = try DesiredStateLoader.load(RepositoryOptions(repository: dir.path))
        #expect(!invalid.isValid && !invalid.isAcceptable)
        #expect(invalid.diagnostics.errors.first?.description.hasPrefix("a.routetest.yaml:2:") == true)
    }

    @Test func plainDirectoryRunsItsRouteTestsUnderPath() throws {
        let dir = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.path + "/gw", withIntermediateDirectories: true)
        try Self.ingress.write(toFile: dir.path + "/gw/a.yaml", atomically: true, encoding: .utf8)
        try Self.failing.write(toFile: dir.path + "/gw/a.routetest.yml", atomically: true, encoding: .utf8)
        try Self.passing.write(toFile: dir.path + "/outside.routetest.yaml", atomically: true, encoding: .utf8)
        let state = try DesiredStateLoader.load(RepositoryOptions(repository: dir.path, path: "gw"))
        #expect(state.routeTestFiles.map(\.path) == ["gw/a.routetest.yml"])
        #expect(!state.testsPassed)
        #expect(state.manifests.objects.count == 1)
    }
}
