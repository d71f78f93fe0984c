// swift-tools-version:6.1
import PackageDescription

// Module layout and ownership: see docs/design.md (pipeline) and each module's Docs.docc.
// Arrows point one way: lower modules never import higher ones.
let package = Package(
    name: "gitway",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "gitway", targets: ["gitway"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2")
    ],
    targets: [
        // System libraries. Each is imported by exactly one Swift module.
        .systemLibrary(name: "CGit2", pkgConfig: "libgit2", providers: [.apt(["libgit2-dev"]), .brew(["libgit2"])]),
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"]), .brew(["libyaml"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"]), .brew(["curl"])]),

        // The vocabulary: diagnostics, source locations, the route table.
        .target(name: "RouteModel"),
        // Git (libgit2 only) -> SourceArtifact.
        .target(name: "GitSource", dependencies: ["CGit2"]),
        // YAML (libyaml only) -> typed Kubernetes objects with locations.
        .target(name: "Manifests", dependencies: ["CYAML", "RouteModel"]),
        // ManifestSet -> RouteTable + [Diagnostic]; a pure function.
        .target(name: "RouteCompiler", dependencies: ["Manifests", "RouteModel"]),
        // Desired state for a commit: source -> manifests -> object ages -> compile.
        .target(name: "Pipeline", dependencies: ["GitSource", "Manifests", "RouteCompiler", "RouteModel"]),
        // The command-line tool, thin.
        .executableTarget(
            name: "gitway",
            dependencies: [
                "Pipeline", "RouteModel", "GitSource",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // Benchmarks (bench/run.sh).
        .executableTarget(
            name: "gitway-bench", dependencies: ["Pipeline", "GitSource", "Manifests", "RouteCompiler"],
            path: "bench/Sources/gitway-bench"),

        .testTarget(name: "GitSourceTests", dependencies: ["GitSource"]),
        .testTarget(name: "ManifestsTests", dependencies: ["Manifests"], resources: [.copy("Fixtures")]),
        .testTarget(name: "RouteCompilerTests", dependencies: ["RouteCompiler", "Manifests"], exclude: ["Golden"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "GitSource"]),
        // Runs the built `gitway` binary (make unit builds it first).
        .testTarget(name: "CLITests", dependencies: ["GitSource"]),
    ]
)
