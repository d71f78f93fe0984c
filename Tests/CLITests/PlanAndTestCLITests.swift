import Foundation
import GitSource
import Testing

/// `gitway plan` and `gitway test` against real Git repositories built with libgit2: a `main` branch and
/// a `topic` branch that starts from it.
struct PlanAndTestCLITests {
    static let ingress = """
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: shop, namespace: shop}
        spec:
          rules:
            - host: shop.example.com
              http:
                paths:
                  - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
                  - {path: /api, pathType: Prefix, backend: {service: {name: api, port: {number: 80}}}}

        """
    static let services = """
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: shop}
        spec: {ports: [{port: 80}]}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
        addressType: IPv4
        ports: [{port: 8080}]
        endpoints: [{addresses: [10.0.0.1]}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: api, namespace: shop}
        spec: {ports: [{port: 80}]}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: api-1, namespace: shop, labels: {kubernetes.io/service-name: api}}
        addressType: IPv4
        ports: [{port: 8080}]
        endpoints: [{addresses: [10.0.0.2]}]
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: creds, namespace: shop}
        stringData: {password: topsecret-main}

        """
    static let tests = """
        tests:
          - name: root goes to web
            request: {host: shop.example.com, path: /}
            expect: {backend: web, status: 200}
          - name: api goes to api
            request: {host: shop.example.com, path: /api/orders}
            expect: {backend: shop/api, path: /api/orders}

        """

    /// `main`: the base files; `topic`: `topicFiles` applied on top (nil value deletes a file).
    static func repository(topic topicFiles: [String: String?]) throws -> TemporaryDirectory {
        let dir = try TemporaryDirectory()
        let repo = try GitRepository.create(at: dir.path)
        var files: [String: String] = [
            "routes/ingress.yaml": ingress, "routes/services.yaml": services, "routes/shop.routetest.yaml": tests,
        ]
        let base = try repo.commit(files: files.mapValues { Array($0.utf8) }, message: "base\n")
        for (path, content) in topicFiles { files[path] = content }
        try repo.commit(files: files.mapValues { Array($0.utf8) }, message: "topic\n", branch: "topic", parents: [base])
        return dir
    }

    @Test func planWithoutChangesExitsZero() throws {
        let dir = try Self.repository(topic: [:])
        let run = try CLITests.gitway("plan", "--repo", dir.path, "--base", "main", "--head", "topic")
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("No changes."))
        #expect(run.stdout.contains("2 route tests, 0 failed"))
    }

    @Test func planWithChangesExitsOneInEveryFormat() throws {
        let changed =
            Self.ingress.replacingOccurrences(of: "name: api, port", with: "name: web, port")
            + "---\napiVersion: v1\nkind: Service\nmetadata: {name: new, namespace: shop}\n"
        let secret = Self.services.replacingOccurrences(of: "topsecret-main", with: "topsecret-topic")
        let fixedTests = Self.tests.replacingOccurrences(of: "backend: shop/api", with: "backend: shop/web")
        let dir = try Self.repository(topic: [
            "routes/ingress.yaml": changed, "routes/services.yaml": secret, "routes/shop.routetest.yaml": fixedTests,
        ])
        let text = try CLITests.gitway("plan", "--repo", dir.path, "--base", "main", "--head", "topic")
        #expect(text.status == 1, "\(text.stdout)\(text.stderr)")
        #expect(text.stdout.contains("~ Prefix /api: shop/api:80 → shop/web:80  [backends]"), "\(text.stdout)")
        #expect(text.stdout.contains("+ create Service/shop/new"))
        #expect(text.stdout.contains("~ update Secret/shop/creds: data changed (values hidden)"))

        let markdown = try CLITests.gitway(
            "plan", "--repo", dir.path, "--base", "main", "--head", "topic", "--format", "markdown")
        #expect(markdown.status == 1)
        #expect(markdown.stdout.hasPrefix("<!-- gitway-plan -->\n"))
        #expect(markdown.stdout.contains("| changed: backends | `Prefix /api` | `shop/web:80` | `shop/api:80` |"))
        let json = try CLITests.gitway("plan", "--repo", dir.path, "--base", "main", "--head", "topic", "--format", "json")
        #expect(json.status == 1)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(object?["prunesEverything"] as? Bool == false)
        let again = try CLITests.gitway("plan", "--repo", dir.path, "--base", "main", "--head", "topic", "--format", "json")
        #expect(again.stdout == json.stdout, "plan output must be deterministic")
        for run in [text, markdown, json] {
            #expect(!(run.stdout + run.stderr).contains("topsecret"), "secret values must never be printed")
        }
    }

    @Test func planOfABrokenHeadExitsTwoAndStillShowsTheDiagnostics() throws {
        let broken = Self.ingress.replacingOccurrences(of: "path: /api,", with: "path: api,")
        let dir = try Self.repository(topic: ["routes/ingress.yaml": broken])
        let run = try CLITests.gitway(
            "plan", "--repo", dir.path, "--base", "main", "--head", "topic", "--format", "markdown")
        #expect(run.status == 2, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("#### Diagnostics of the head revision"))
        #expect(run.stdout.contains("`routes/ingress.yaml:10:"), "\(run.stdout)")
        #expect(run.stderr.contains("routes/ingress.yaml:10:"))
    }

    @Test func planOfAHeadWithFailingRouteTestsExitsTwo() throws {
        let wrong = Self.tests.replacingOccurrences(of: "backend: web", with: "backend: api")
        let dir = try Self.repository(topic: ["routes/shop.routetest.yaml": wrong])
        let run = try CLITests.gitway("plan", "--repo", dir.path, "--base", "main", "--head", "topic")
        #expect(run.status == 2, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("Failing route tests of topic@sha1:"))
        #expect(run.stdout.contains("routes/shop.routetest.yaml:2:5: error: test \"root goes to web\": expected backend api, got web"))
    }

    @Test func planOfAnUnknownRefOrAPlainDirectoryExitsTwo() throws {
        let dir = try Self.repository(topic: [:])
        let unknown = try CLITests.gitway("plan", "--repo", dir.path, "--base", "main", "--head", "nope")
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("nope"))
        let missing = try CLITests.gitway("plan", "--repo", dir.path, "--base", "main")
        #expect(missing.status == 2)
        let plain = try CLITests.gitway("plan", "--repo", "examples-repo", "--base", "a", "--head", "b")
        #expect(plain.status == 2)
        #expect(plain.stderr.contains("not a Git repository"))
        let rev = try CLITests.gitway("plan", "--repo", dir.path, "--base", "main", "--head", "topic", "--rev", "x")
        #expect(rev.status == 2)
    }

    @Test func planOfAnEmptiedRepositoryWarnsThatEverythingIsPruned() throws {
        let dir = try Self.repository(topic: [
            "routes/ingress.yaml": nil, "routes/services.yaml": nil, "routes/shop.routetest.yaml": nil, "README.md": "gone\n",
        ])
        let run = try CLITests.gitway("plan", "--repo", dir.path, "--base", "main", "--head", "topic", "--format", "json")
        #expect(run.status == 1, "\(run.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
        #expect(object?["prunesEverything"] as? Bool == true)
    }

    // MARK: gitway test

    @Test func testPassesAndFailsWithExitCodes() throws {
        let wrong = Self.tests.replacingOccurrences(of: "backend: shop/api", with: "backend: shop/web")
        let dir = try Self.repository(topic: ["routes/shop.routetest.yaml": wrong])
        let pass = try CLITests.gitway("test", "--repo", dir.path)
        #expect(pass.status == 0, "\(pass.stdout)\(pass.stderr)")
        #expect(pass.stdout == "2 tests, 0 failed\n")
        let fail = try CLITests.gitway("test", "--repo", dir.path, "--rev", "topic")
        #expect(fail.status == 1)
        #expect(
            fail.stdout == """
                routes/shop.routetest.yaml:5:5: error: test "api goes to api": expected backend shop/web, got shop/api
                2 tests, 1 failed

                """)
        let json = try CLITests.gitway("test", "--repo", dir.path, "--branch", "topic", "--format", "json")
        #expect(json.status == 1)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(object?["failed"] as? Int == 1)
        #expect(object?["total"] as? Int == 2)
    }

    @Test func testFileErrorsAreLocatedAndExitOne() throws {
        let bad = Self.tests.replacingOccurrences(of: "expect: {backend: web, status: 200}", with: "expect: {backend: web, sttus: 200}")
        let dir = try Self.repository(topic: ["routes/shop.routetest.yaml": bad])
        let run = try CLITests.gitway("test", "--repo", dir.path, "--rev", "topic")
        #expect(run.status == 1)
        #expect(run.stderr.contains("routes/shop.routetest.yaml:4:28: error: tests[0].expect: unknown field \"sttus\""), "\(run.stderr)")
        #expect(run.stdout.contains("1 test, 0 failed"))
    }

    @Test func testWithoutTestFilesExitsZeroWithANote() throws {
        let dir = try Self.repository(topic: ["routes/shop.routetest.yaml": nil])
        let run = try CLITests.gitway("test", "--repo", dir.path, "--rev", "topic")
        #expect(run.status == 0)
        #expect(run.stdout == "0 tests, 0 failed\n")
        #expect(run.stderr.contains("no route tests"))
    }

    @Test func testOnlyReadsTestsUnderPathAndInPlainDirectories() throws {
        let dir = try Self.repository(topic: [:])
        let other = try CLITests.gitway("test", "--repo", dir.path, "--path", "elsewhere")
        #expect(other.status == 0)
        #expect(other.stderr.contains("no route tests"))
        let examples = try CLITests.gitway("test", "--repo", "examples-repo")
        #expect(examples.status == 0, "\(examples.stdout)\(examples.stderr)")
        #expect(examples.stdout.hasSuffix("tests, 0 failed\n"))
        #expect(!examples.stdout.hasPrefix("0 tests"))
    }

    @Test func testOfAnUnknownRevisionExitsTwo() throws {
        let dir = try Self.repository(topic: [:])
        let run = try CLITests.gitway("test", "--repo", dir.path, "--rev", "nope")
        #expect(run.status == 2)
    }

    @Test(arguments: ["plan", "test"])
    func newCommandsHaveHelpWithExamples(_ command: String) throws {
        let run = try CLITests.gitway(command, "--help")
        #expect(run.status == 0)
        #expect(run.stdout.contains("Examples:"))
    }
}
