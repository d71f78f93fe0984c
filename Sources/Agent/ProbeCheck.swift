import Applier
import Foundation
import RouteModel

#if canImport(Glibc)
    import Glibc
#endif

/// Verification by the repository's own route tests, sent for real (`--verify-probes`): after the
/// swap, every route test that expects a status is sent through the gateway's listener, and its
/// status and expected response headers must hold. A test passes the offline evaluation when the
/// routes are right; as a probe it also fails when the backend behind them does not answer as
/// declared (a wrong port, a dead endpoint), and the revision is rolled back.
struct ProbeCheck: VerificationCheck {
    /// The route tests of the revision being verified.
    let files: @Sendable (String) -> [RouteTestFile]
    /// The gateway's plain listener.
    let address: @Sendable () -> (host: String, port: Int)?
    /// At most this many probes per revision.
    static let limit = 50

    var name: String { "probes" }

    func verify(_ context: VerificationContext) async -> VerificationResult {
        let probes = files(context.revision).flatMap(\.tests).filter { $0.expect.status != nil }.prefix(Self.limit)
        guard !probes.isEmpty, let (host, port) = address() else { return .passed }
        var failures: [String] = []
        for probe in probes {
            if await context.isSuperseded() { return .superseded }
            let answer = await Self.send(probe.request, host: host == "0.0.0.0" ? "127.0.0.1" : host, port: port)
            if let problem = Self.mismatch(probe.expect, answer) {
                failures.append("\(probe.location): probe \"\(probe.name)\": \(problem)")
            }
        }
        guard !failures.isEmpty else { return .passed }
        let more = failures.count > 3 ? " (and \(failures.count - 3) more)" : ""
        return .failed(failures.prefix(3).joined(separator: "; ") + more)
    }

    static func mismatch(_ expect: RouteTestExpectation, _ answer: Result<(status: Int, headers: [(String, String)]), ProbeError>)
        -> String?
    {
        switch answer {
        case .failure(let error):
            return error.description
        case .success(let response):
            if let status = expect.status, status != response.status { return "expected status \(status), got \(response.status)" }
            for (name, value) in expect.headers.sorted(by: { $0.key < $1.key }) {
                let got = response.headers.first { $0.0.lowercased() == name.lowercased() }?.1
                if got != value { return "expected header \(name): \(value), got \(got ?? "none")" }
            }
            return nil
        }
    }

    struct ProbeError: Error, CustomStringConvertible {
        var description: String
    }

    /// One request over a fresh loopback connection, on a thread of its own (blocking socket calls
    /// must not hold a thread of the cooperative pool); only the response head is read.
    static func send(_ request: RouteTestRequest, host: String, port: Int) async -> Result<
        (status: Int, headers: [(String, String)]), ProbeError
    > {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: exchange(request, host: host, port: port)) }.start()
        }
    }

    private static func exchange(_ request: RouteTestRequest, host: String, port: Int) -> Result<
        (status: Int, headers: [(String, String)]), ProbeError
    > {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return .failure(ProbeError(description: "no socket")) }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr(host)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return .failure(ProbeError(description: "cannot connect to the gateway at \(host):\(port)")) }
        var head = "\(request.method) \(request.path) HTTP/1.1\r\nHost: \(request.host)\r\nConnection: close\r\n"
        for (name, value) in request.headers.sorted(by: { $0.key < $1.key }) where name.lowercased() != "host" {
            head += "\(name): \(value)\r\n"
        }
        if !request.cookies.isEmpty {
            head +=
                "Cookie: " + request.cookies.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
                + "\r\n"
        }
        let bytes = Array((head + "\r\n").utf8)
        guard bytes.withUnsafeBytes({ Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == bytes.count else {
            return .failure(ProbeError(description: "the gateway closed the connection"))
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 8192)
        while received.count < 65536 {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            received += buffer[0..<n]
            if received.count >= 4 && received.firstRange(of: [13, 10, 13, 10]) != nil { break }
        }
        let text = String(decoding: received, as: UTF8.self)
        let lines = text.components(separatedBy: "\r\n\r\n")[0].components(separatedBy: "\r\n")
        guard let statusLine = lines.first, let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "") else {
            return .failure(ProbeError(description: "no HTTP response from the gateway"))
        }
        let headers = lines.dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        return .success((status, headers))
    }
}
