import DataPlane
import Foundation
import Logging
import NIOCore
import NIOPosix
import RouteModel
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A real backend process (`gitway-backend`, built next to the test binary) on a free loopback port.
final class BackendProcess {
    let name: String
    let port: Int
    private let process: Process
    private let directory: String

    static let binary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        .appendingPathComponent("gitway-backend")

    init(name: String, mode: String = "echo") throws {
        self.name = name
        directory = NSTemporaryDirectory() + "gitway-backend-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let ready = directory + "/port"
        guard FileManager.default.isExecutableFile(atPath: Self.binary.path) else {
            throw TestFailure("gitway-backend not found at \(Self.binary.path); run `swift build` first")
        }
        process = Process()
        process.executableURL = Self.binary
        process.arguments = ["--listen", "127.0.0.1:0", "--name", name, "--mode", mode, "--threads", "1", "--ready-file", ready]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        var found: Int?
        while found == nil && Date() < deadline {
            if let text = try? String(contentsOfFile: ready, encoding: .utf8),
                let p = Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                found = p
            } else {
                usleep(10_000)
            }
        }
        guard let found else {
            process.terminate()
            throw TestFailure("backend \(name) did not start")
        }
        port = found
    }

    deinit {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A port with nothing listening on it.
func deadPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    _ = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// Builds route tables for tests: `(host, path match, cluster)` routes and clusters of loopback ports.
func makeTable(
    revision: String = "test", routes: [(String, PathMatch, String)], clusters: [String: [Int]]
) -> RouteTable {
    var byHost: [String: [Route]] = [:]
    for (i, (host, match, cluster)) in routes.enumerated() {
        byHost[host, default: []].append(
            Route(
                name: "r\(i)", match: RouteMatch(path: match), action: .forward(to: cluster),
                source: RouteSource(object: "Ingress/default/test", location: SourceLocation(file: "t.yaml", line: i + 1, column: 1))))
    }
    let hosts = byHost.keys.sorted { a, b in
        let (ka, kb) = (VirtualHost(host: a, routes: []).kind, VirtualHost(host: b, routes: []).kind)
        return ka != kb ? ka < kb : a < b
    }
    return RouteTable(
        revision: revision,
        virtualHosts: hosts.map { VirtualHost(host: $0, routes: byHost[$0]!) },
        clusters: clusters.keys.sorted().map { name in
            Cluster(
                name: name, service: ServiceRef(namespace: "default", name: name, port: 80),
                endpoints: clusters[name]!.map { Endpoint(address: "127.0.0.1", port: $0) })
        })
}

/// A data plane on a free loopback port.
final class ProxyFixture {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    let plane: DataPlane
    let port: Int

    init(configuration: DataPlaneConfiguration = DataPlaneConfiguration()) async throws {
        var configuration = configuration
        configuration.accessLog = .off
        plane = DataPlane(group: group, configuration: configuration, logger: Logger(label: "test"))
        port = try await plane.bindHTTP(host: "127.0.0.1", port: 0).port!
    }

    func shutdown() async {
        await plane.shutdown(gracePeriod: .milliseconds(100))
        try? await group.shutdownGracefully()
    }
}

/// A blocking HTTP/1.1 client on a plain socket: full control of the bytes sent, for malformed requests too.
final class RawClient {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: 15, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw TestFailure("connect to \(port) failed: errno \(errno)") }
    }

    deinit { close(fd) }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestFailure("send failed: errno \(errno)") }
            offset += n
        }
    }

    private var buffer: [UInt8] = []

    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { return false }
        buffer.append(contentsOf: chunk[0..<n])
        return true
    }

    struct Response {
        var status: Int
        var headers: [(String, String)]
        var body: [UInt8]
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
        var text: String { String(decoding: body, as: UTF8.self) }
        /// The echo backend's JSON report.
        var echo: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] }
    }

    /// Reads one response; `countOnly` discards the body while counting it (for large downloads).
    func readResponse(head: Bool = false, countOnly: Bool = false) throws -> (Response, Int) {
        var headerEnd: Int?
        while headerEnd == nil {
            if let r = buffer.firstRange(of: [13, 10, 13, 10]) { headerEnd = r.upperBound; break }
            guard try fill() else { throw TestFailure("connection closed before a response head") }
        }
        let headText = String(decoding: buffer[0..<headerEnd!], as: UTF8.self)
        buffer.removeFirst(headerEnd!)
        var lines = headText.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        let statusLine = lines.removeFirst()
        let status = Int(statusLine.split(separator: " ")[1])!
        let headers = lines.map { line -> (String, String) in
            let i = line.firstIndex(of: ":")!
            return (String(line[..<i]), line[line.index(after: i)...].trimmingCharacters(in: .whitespaces))
        }
        var response = Response(status: status, headers: headers, body: [])
        var total = 0
        if head || status == 204 || status == 304 { return (response, 0) }
        func take(_ n: Int) throws {
            var remaining = n
            while remaining > 0 {
                if buffer.isEmpty { guard try fill() else { throw TestFailure("connection closed mid-body") } }
                let k = min(remaining, buffer.count)
                if !countOnly { response.body.append(contentsOf: buffer[0..<k]) }
                buffer.removeFirst(k)
                remaining -= k
                total += k
            }
        }
        if let length = response.header("content-length").flatMap(Int.init) {
            try take(length)
        } else if response.header("transfer-encoding")?.lowercased() == "chunked" {
            while true {
                var lineEnd: Int?
                while lineEnd == nil {
                    if let r = buffer.firstRange(of: [13, 10]) { lineEnd = r.lowerBound; break }
                    guard try fill() else { throw TestFailure("closed in chunk size") }
                }
                let sizeText = String(decoding: buffer[0..<lineEnd!], as: UTF8.self).split(separator: ";")[0]
                buffer.removeFirst(lineEnd! + 2)
                let size = Int(sizeText, radix: 16)!
                if size == 0 {
                    while buffer.firstRange(of: [13, 10]) == nil { guard try fill() else { break } }
                    if let r = buffer.firstRange(of: [13, 10]) { buffer.removeFirst(r.upperBound) }
                    break
                }
                try take(size)
                while buffer.count < 2 { guard try fill() else { break } }
                buffer.removeFirst(2)
            }
        } else {
            while try fill() {}
            total += buffer.count
            if !countOnly { response.body = buffer }
            buffer = []
        }
        return (response, total)
    }

    func get(_ path: String, host: String, headers: [String] = []) throws -> Response {
        let extra = headers.map { $0 + "\r\n" }.joined()
        try send("GET \(path) HTTP/1.1\r\nHost: \(host)\r\n\(extra)\r\n")
        return try readResponse().0
    }
}

/// Resident memory of this process, in bytes.
func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    return (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
}
