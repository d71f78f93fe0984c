import GitSource
import Manifests
import RouteCompiler
import RouteModel
import RouteTesting

/// Where the routing manifests come from.
public struct RepositoryOptions: Sendable {
    /// A local path or a remote URL. A local directory that is not a Git repository is read from disk as is.
    public var repository: String
    public var branch: String
    /// Subdirectory holding the manifests (`""` for the root).
    public var path: String
    public var include: [String]
    public var exclude: [String]
    /// Git cache and agent state; a temporary directory when `nil`.
    public var stateDirectory: String?
    public var credentials: GitCredentials
    /// Serve only this MseIngressConfig's Ingresses.
    public var gateway: String?

    public init(
        repository: String, branch: String = "main", path: String = "", include: [String] = [], exclude: [String] = [],
        stateDirectory: String? = nil, credentials: GitCredentials = .none, gateway: String? = nil
    ) {
        self.repository = repository
        self.branch = branch
        self.path = path
        self.include = include
        self.exclude = exclude
        self.stateDirectory = stateDirectory
        self.credentials = credentials
        self.gateway = gateway
    }

    public var filter: TreeFilter {
        var f = TreeFilter.manifests
        f.path = path
        if !include.isEmpty { f.include = include }
        f.exclude = exclude
        return f
    }
}

/// The desired state of one revision: its manifests, its compiled route table, the results of its
/// route tests and every diagnostic found on the way (loading, compiling, decoding route tests),
/// sorted by location.
public struct DesiredState: Sendable {
    /// `main@sha1:<hash>`, or `directory:<path>` for a plain directory.
    public var revision: String
    public var commit: CommitInfo?
    public var fileCount: Int
    public var manifests: ManifestSet
    public var compiled: CompileResult
    /// Load, compile and route-test-file diagnostics (not test failures: see `routeTests`).
    public var diagnostics: [Diagnostic]
    /// The `*.routetest.yaml` files under the manifests path, decoded (tests with errors left out).
    public var routeTestFiles: [RouteTestFile]
    /// The route tests run against `table`.
    public var routeTests: RouteTestReport

    public var table: RouteTable { compiled.table }
    /// No error among the diagnostics: the manifests and route test files load and compile.
    /// Says nothing about whether the route tests pass (`testsPassed`).
    public var isValid: Bool { !diagnostics.hasErrors }
    /// Every route test passes (true when there are none).
    public var testsPassed: Bool { routeTests.passed }
    /// What a commit must be to go live: valid, and its route tests pass.
    public var isAcceptable: Bool { isValid && testsPassed }
    /// Test failures as located diagnostics (`test "name": expected …, got …`).
    public var routeTestFailures: [Diagnostic] { routeTests.diagnostics }
}

/// Source → manifests → ages → compile, the desired-state half of the reconcile loop, usable alone
/// (`gitway validate`, `gitway routes`, `gitway plan`) and by the agent.
public enum DesiredStateLoader {
    /// Environment problems (unknown ref, unreachable remote) throw; problems in the manifests are diagnostics.
    public static func load(_ options: RepositoryOptions, revision rev: String? = nil) throws -> DesiredState {
        if let directory = plainDirectory(options.repository) {
            return try loadDirectory(directory, options: options)
        }
        let source = GitSource(
            repository: options.repository, branch: options.branch, filter: options.filter,
            stateDirectory: options.stateDirectory, credentials: options.credentials)
        let (artifact, _) = try source.artifact(at: rev)
        let repository = try source.open()
        return try compile(artifact: artifact, repository: repository, options: options)
    }

    /// Compiles an artifact; `repository` supplies the history used to date objects.
    public static func compile(
        artifact: SourceArtifact, repository: GitRepository?, options: RepositoryOptions
    ) throws -> DesiredState {
        let files = artifact.files.map { ManifestFile(path: $0.path, bytes: $0.bytes) }
        var (manifests, diagnostics) = ManifestLoader.load(files)
        let (testFiles, testDiagnostics) = RouteTestLoader.load(files)
        diagnostics += testDiagnostics
        for big in artifact.oversized {
            diagnostics.append(
                .error(
                    "file is \(big.size) bytes, over the \(artifact.filter.maxFileSize)-byte limit; it was not read",
                    at: SourceLocation(file: big.path, line: 1, column: 1)))
        }
        var ages: [ObjectKey: Int] = [:]
        if let repository {
            ages = try ObjectAges.compute(
                repository: repository, tip: artifact.commit.sha, filter: artifact.filter, tipObjects: manifests)
        }
        let compiled = RouteCompiler.compile(
            manifests, options: CompileOptions(revision: artifact.commit.sha, ages: ages, gateway: options.gateway))
        diagnostics += compiled.diagnostics
        return DesiredState(
            revision: artifact.revision, commit: artifact.commit, fileCount: files.count, manifests: manifests,
            compiled: compiled, diagnostics: diagnostics.sorted(), routeTestFiles: testFiles,
            routeTests: RouteTester.run(testFiles, against: compiled.table))
    }

    static func loadDirectory(_ directory: String, options: RepositoryOptions) throws -> DesiredState {
        let files = try ManifestLoader.files(
            inDirectory: directory, subdirectory: options.path, includeRouteTests: true
        )
        .filter { options.filter.matches($0.path) }
        var (manifests, diagnostics) = ManifestLoader.load(files)
        let (testFiles, testDiagnostics) = RouteTestLoader.load(files)
        diagnostics += testDiagnostics
        let revision = "directory:" + directory
        let compiled = RouteCompiler.compile(manifests, options: CompileOptions(revision: revision, gateway: options.gateway))
        diagnostics += compiled.diagnostics
        manifests.objects.sort { $0.source.file < $1.source.file }
        return DesiredState(
            revision: revision, commit: nil, fileCount: files.count, manifests: manifests, compiled: compiled,
            diagnostics: diagnostics.sorted(), routeTestFiles: testFiles,
            routeTests: RouteTester.run(testFiles, against: compiled.table))
    }

    /// A local directory that is not a Git repository root: read from disk as is.
    public static func plainDirectory(_ repository: String) -> String? {
        if repository.contains("://") || (repository.contains("@") && repository.contains(":")) { return nil }
        var isDirectory: Bool = false
        guard FileSystem.isDirectory(repository, &isDirectory), isDirectory else { return nil }
        return (try? GitRepository.open(repository)) == nil ? repository : nil
    }
}
