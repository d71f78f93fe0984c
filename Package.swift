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
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", exact: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl", exact: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2", exact: "1.46.0"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-atomics", exact: "1.3.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
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
        // The embedded gateway: a SwiftNIO reverse proxy serving one RoutingSnapshot at a time.
        .target(
            name: "DataPlane",
            dependencies: [
                "RouteModel",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Atomics", package: "swift-atomics"),
            ],
            // The handlers' state lives in classes touched only by their own event loop; the dynamic
            // exclusivity checks on it measured 3–4 % of the proxy's CPU (docs/performance.md).
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"])]
        ),
        // Route tests (`*.routetest.yaml`) run against a RouteTable with the reference matcher; no network.
        .target(name: "RouteTesting", dependencies: ["RouteModel"]),
        // (desired, live) -> Plan for objects and routes, and its renderers (text, Markdown, JSON); pure.
        .target(name: "Planner", dependencies: ["RouteModel", "Manifests"]),
        // Live state: the ClusterTarget protocol and the embedded store (the default when no cluster is connected).
        .target(name: "Cluster", dependencies: ["Manifests", "Planner", "RouteModel"]),
        // A Plan as one transaction over the cluster and the gateway: journal, apply, verify, roll back, recover.
        .target(name: "Applier", dependencies: ["Cluster", "Manifests", "Planner", "RouteModel"]),
        // Desired state for a commit: source -> manifests -> object ages -> compile -> route tests.
        .target(
            name: "Pipeline", dependencies: ["GitSource", "Manifests", "RouteCompiler", "RouteModel", "RouteTesting"]),
        // Wiring: the serve loop, status, admin API, lifecycle.
        .target(
            name: "Agent",
            dependencies: [
                "Pipeline", "DataPlane", "GitSource", "RouteModel", "Manifests", "Planner", "Cluster", "Applier",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The command-line tool, thin.
        .executableTarget(
            name: "gitway",
            dependencies: [
                "Pipeline", "RouteModel", "GitSource", "Agent", "DataPlane", "Planner", "RouteTesting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // A fast loopback HTTP backend: echo (reports its name and what it received) or ok; used by tests and benchmarks.
        .executableTarget(
            name: "gitway-backend",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            path: "bench/Sources/gitway-backend"),
        // Benchmarks (bench/run.sh).
        .executableTarget(
            name: "gitway-bench", dependencies: ["Pipeline", "GitSource", "Manifests", "RouteCompiler"],
            path: "bench/Sources/gitway-bench"),

        .testTarget(name: "GitSourceTests", dependencies: ["GitSource"]),
        .testTarget(name: "ManifestsTests", dependencies: ["Manifests"], resources: [.copy("Fixtures")]),
        .testTarget(name: "RouteCompilerTests", dependencies: ["RouteCompiler", "Manifests"], exclude: ["Golden"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "GitSource"]),
        .testTarget(name: "RouteTestingTests", dependencies: ["RouteTesting", "RouteModel"]),
        .testTarget(
            name: "PlannerTests", dependencies: ["Planner", "RouteModel", "Manifests", "RouteCompiler", "RouteTesting"],
            exclude: ["Golden"]),
        .testTarget(
            name: "DataPlaneTests",
            dependencies: [
                "DataPlane", "RouteModel",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ]),
        // The agent against real Git repositories (libgit2) and its admin API over loopback HTTP.
        .testTarget(
            name: "AgentTests",
            dependencies: [
                "Agent", "DataPlane", "GitSource", "Pipeline", "RouteModel",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(name: "ClusterTests", dependencies: ["Cluster", "Manifests", "Planner", "RouteModel"]),
        .testTarget(name: "ApplierTests", dependencies: ["Applier", "Cluster", "Manifests", "Planner", "RouteModel"]),
        // Runs one transaction in its own process and SIGKILLs itself at a journal record
        // (`GITWAY_TEST_CRASH_AT`); ApplierTests restarts over its state directory.
        .executableTarget(
            name: "gitway-crash-probe", dependencies: ["Applier", "Cluster", "Manifests", "Planner", "RouteModel"],
            path: "Tests/CrashProbe"),
        // Runs the built `gitway` binary (make unit builds it first).
        .testTarget(name: "CLITests", dependencies: ["GitSource"]),
    ]
)
