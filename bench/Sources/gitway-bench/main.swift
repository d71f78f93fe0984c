// Load + compile benchmark: generates a routing repository of N Ingresses in a real Git repository
// (libgit2), then, in a fresh process, times reading the commit, parsing, dating and compiling it.
//
//   gitway-bench generate DIR [--ingresses 10000] [--hosts 2000] [--paths-per-ingress 3]
//   gitway-bench measure DIR [--runs 3]
//   gitway-bench proxy-repo DIR --routes N --backend-port P [--hosts H] [--route-list FILE]   (bench/proxy.sh)
import Foundation
import GitSource
import Manifests
import Pipeline
import RouteCompiler

#if canImport(Glibc)
    import Glibc
#endif

func option(_ name: String, _ fallback: Int) -> Int {
    let args = CommandLine.arguments
    if let i = args.firstIndex(of: name), i + 1 < args.count, let v = Int(args[i + 1]) { return v }
    return fallback
}

func peakRSSMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024  // ru_maxrss is KiB on Linux
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func generate(into dir: String) throws {
    let ingresses = option("--ingresses", 10_000)
    let hosts = option("--hosts", 2_000)
    let pathsPer = option("--paths-per-ingress", 3)
    var files: [String: [UInt8]] = [:]
    let ingressesPerFile = 100
    // One file per 100 Ingresses, as a team-per-directory layout would have.
    var buffer = ""
    for i in 0..<ingresses {
        let host = "h\(i % hosts).example.com"
        let ns = "team\(i % 50)"
        buffer += """
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: ing-\(i)
              namespace: \(ns)
              annotations:
                owner: team\(i % 50)
            spec:
              ingressClassName: mse
              rules:
                - host: \(host)
                  http:
                    paths:

            """
        for p in 0..<pathsPer {
            let type = p == 0 ? "Exact" : "Prefix"
            buffer += """
                          - path: /svc\(i)/p\(p)
                            pathType: \(type)
                            backend:
                              service:
                                name: svc-\(i % 500)
                                port:
                                  number: 80

                """
        }
        buffer += "---\n"
        if (i + 1) % ingressesPerFile == 0 || i == ingresses - 1 {
            files["ingresses/team\(i / 1000)/batch-\(i / ingressesPerFile).yaml"] = Array(buffer.utf8)
            buffer = ""
        }
    }
    // svc-k is only ever used from namespace team(k % 50), since 500 is a multiple of 50.
    var services = ""
    for s in 0..<500 {
        services += """
            apiVersion: v1
            kind: Service
            metadata: {name: svc-\(s), namespace: team\(s % 50)}
            spec: {ports: [{name: http, port: 80, targetPort: 8080}]}
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: svc-\(s)-a, namespace: team\(s % 50), labels: {kubernetes.io/service-name: svc-\(s)}}
            addressType: IPv4
            ports: [{name: http, port: 8080}]
            endpoints: [{addresses: [10.0.\(s / 250).\(s % 250 + 1)], zone: zone-a}]
            ---

            """
    }
    files["services/all.yaml"] = Array(services.utf8)
    files["gateway.yaml"] = Array(
        """
        apiVersion: mse.alibabacloud.com/v1alpha1
        kind: MseIngressConfig
        metadata: {name: bench}
        spec: {ingress: {local: {ingressClass: mse}}}
        ---
        apiVersion: networking.k8s.io/v1
        kind: IngressClass
        metadata: {name: mse}
        spec:
          controller: mse.alibabacloud.com/ingress
          parameters: {apiGroup: mse.alibabacloud.com, kind: MseIngressConfig, name: bench}

        """.utf8)
    try? FileManager.default.removeItem(atPath: dir)
    let repo = try GitRepository.create(at: dir, bare: true)
    _ = try repo.commit(files: files, message: "Generated: \(ingresses) Ingresses over \(hosts) hosts\n")
    let bytes = files.values.reduce(0) { $0 + $1.count }
    print("generated \(dir): \(files.count) files, \(bytes / 1_048_576) MiB of YAML, \(ingresses) Ingresses, \(ingresses * pathsPer) paths")
}

func measure(_ dir: String) throws {
    let runs = option("--runs", 3)
    var best = Double.infinity
    var summary = ""
    for _ in 0..<runs {
        let t0 = now()
        let state = try DesiredStateLoader.load(RepositoryOptions(repository: dir))
        let t1 = now()
        best = min(best, t1 - t0)
        summary =
            "\(state.fileCount) files, \(state.manifests.ingresses.count) Ingresses, \(state.table.routeCount) routes, "
            + "\(state.table.virtualHosts.count) hosts, \(state.diagnostics.count) diagnostics"
    }
    print(summary)
    print(String(format: "load+compile: best of %d = %.3f s; peak RSS = %.1f MiB", runs, best, peakRSSMiB()))
    // Phases, for finding where the time goes.
    let source = GitSource(repository: dir, stateDirectory: nil)
    let t0 = now()
    let (artifact, _) = try source.artifact()
    let t1 = now()
    let (set, _) = ManifestLoader.load(artifact.files.map { ManifestFile(path: $0.path, bytes: $0.bytes) })
    let t2 = now()
    _ = try ObjectAges.compute(repository: try source.open(), tip: artifact.commit.sha, filter: artifact.filter, tipObjects: set)
    let t3 = now()
    let compiled = RouteCompiler.compile(set)
    let t4 = now()
    _ = compiled.table.canonicalJSON()
    let t5 = now()
    print(
        String(
            format: "phases: read tree %.3f s, parse+decode %.3f s, ages %.3f s, compile %.3f s (canonical JSON %.3f s, not part of load)",
            t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4))
}

/// The routing repository of the proxy benchmark (bench/proxy.sh): N routes in total, all to ONE Service `bench`
/// whose EndpointSlice points at 127.0.0.1:P. Routes 0..<N-1 are `Prefix /r<i>` dealt out in consecutive runs
/// over H hosts `h<j>.bench.test` (10 paths per Ingress); the last route is the catch-all `Prefix /` on host
/// `bench.local`, which the load generator hits. With `--route-list FILE` it also writes the table as
/// `host<TAB>pathType<TAB>path` lines in the same order, from which bench/proxy.sh writes the equivalent nginx and
/// haproxy configurations, so the three proxies route the same table.
func proxyRepo(into dir: String) throws {
    let routes = option("--routes", 1)
    let port = option("--backend-port", 0)
    guard routes >= 1, (1...65535).contains(port) else {
        print("usage: gitway-bench proxy-repo DIR --routes N --backend-port P [--hosts H] [--route-list FILE]")
        exit(2)
    }
    let hosts = max(1, option("--hosts", routes == 1 ? 1 : routes / 5))
    let pathsPerIngress = 10
    let prefixRoutes = routes - 1
    var files: [String: [UInt8]] = [:]
    var list = ""
    var yaml = ""
    var start = 0
    while start < prefixRoutes {
        let end = min(start + pathsPerIngress, prefixRoutes)
        yaml += """
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata: {name: routes-\(start / pathsPerIngress), namespace: bench}
            spec:
              ingressClassName: mse
              rules:

            """
        var currentHost = -1
        for r in start..<end {
            let host = r * hosts / prefixRoutes  // consecutive runs of about N/H routes per host
            if host != currentHost {
                currentHost = host
                yaml += "    - host: h\(host).bench.test\n      http:\n        paths:\n"
            }
            yaml += "          - {path: /r\(r), pathType: Prefix, backend: {service: {name: bench, port: {number: 80}}}}\n"
            list += "h\(host).bench.test\tPrefix\t/r\(r)\n"
        }
        yaml += "---\n"
        start = end
        if start % 1000 == 0 || start == prefixRoutes {  // 100 Ingresses per file
            files["routes/routes-\((start - 1) / 1000).yaml"] = Array(yaml.utf8)
            yaml = ""
        }
    }
    list += "bench.local\tPrefix\t/\n"
    files["bench.yaml"] = Array(
        """
        # The benchmark's catch-all: GET / with Host: bench.local. Last in every proxy's configuration.
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: catch-all, namespace: bench}
        spec:
          ingressClassName: mse
          rules:
            - host: bench.local
              http:
                paths:
                  - {path: /, pathType: Prefix, backend: {service: {name: bench, port: {number: 80}}}}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: bench, namespace: bench}
        spec: {ports: [{name: http, port: 80, targetPort: \(port)}]}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: bench-local, namespace: bench, labels: {kubernetes.io/service-name: bench}}
        addressType: IPv4
        ports: [{name: http, port: \(port)}]
        endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
        ---
        apiVersion: mse.alibabacloud.com/v1alpha1
        kind: MseIngressConfig
        metadata: {name: bench}
        spec: {ingress: {local: {ingressClass: mse}}}
        ---
        apiVersion: networking.k8s.io/v1
        kind: IngressClass
        metadata: {name: mse}
        spec:
          controller: mse.alibabacloud.com/ingress
          parameters: {apiGroup: mse.alibabacloud.com, kind: MseIngressConfig, name: bench}

        """.utf8)
    try? FileManager.default.removeItem(atPath: dir)
    let repo = try GitRepository.create(at: dir, bare: true)
    let sha = try repo.commit(
        files: files, message: "Proxy benchmark: \(routes) routes over \(hosts) hosts + bench.local, backend 127.0.0.1:\(port)\n")
    if let i = CommandLine.arguments.firstIndex(of: "--route-list"), i + 1 < CommandLine.arguments.count {
        try Data(list.utf8).write(to: URL(fileURLWithPath: CommandLine.arguments[i + 1]))
    }
    print(
        "generated \(dir) at \(sha.prefix(12)): \(routes) routes (\(prefixRoutes) over \(hosts) hosts, then the catch-all "
            + "on bench.local), \(files.count) files, backend 127.0.0.1:\(port)")
}

let args = CommandLine.arguments
guard args.count >= 3 else {
    print("usage: gitway-bench generate|measure|proxy-repo DIR [options]")
    exit(2)
}
do {
    switch args[1] {
    case "generate": try generate(into: args[2])
    case "measure": try measure(args[2])
    case "proxy-repo": try proxyRepo(into: args[2])
    default:
        print("unknown command \(args[1])")
        exit(2)
    }
} catch {
    print("error: \(error)")
    exit(2)
}
