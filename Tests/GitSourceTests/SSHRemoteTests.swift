import Foundation
import Testing

@testable import GitSource

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// End-to-end ssh:// cases against a real OpenSSH server on loopback (see `SSHServer`). They need `sshd`,
/// `ssh-keygen` and `git-upload-pack` (scripts/install-deps.sh installs them) and fail, not skip, without them.
@Suite struct SSHRemoteTests {
    @Test func cloneAndFetchOverSSH() throws {
        let server = try SSHServer()
        defer { server.stop() }
        let served = try GitRepository.create(at: server.directory.appending("served.git"), bare: true)
        let c1 = try served.commit(
            files: ["k8s/ingress.yaml": bytes("kind: Ingress\n"), "k8s/notes.txt": bytes("x"), "ci.yaml": bytes("y")],
            message: "c1")
        let url = server.url(for: served.path)
        let credentials = server.credentials()

        let source = GitSource(
            repository: url, filter: TreeFilter(path: "k8s"), stateDirectory: server.directory.appending("state"),
            credentials: credentials)
        #expect(source.isRemote)
        let first = try source.artifact()
        #expect(first.changed)
        #expect(first.artifact.commit.sha == c1)
        #expect(first.artifact.files == [SourceFile(path: "k8s/ingress.yaml", bytes: bytes("kind: Ingress\n"))])

        let c2 = try served.commit(files: ["k8s/ingress.yaml": bytes("kind: Ingress\nmetadata: {}\n")], message: "c2")
        let second = try source.artifact()
        #expect(second.changed && second.artifact.commit.sha == c2)
        #expect(
            second.artifact.files == [SourceFile(path: "k8s/ingress.yaml", bytes: bytes("kind: Ingress\nmetadata: {}\n"))])
        #expect(try !source.artifact().changed)

        // The cache itself: fetch reports whether the branch moved.
        let cache = try GitRepository.cache(url: url, in: server.directory.appending("cache"), credentials: credentials)
        #expect(try cache.originURL() == url)
        #expect(try cache.resolve("main") == c2)
        #expect(try cache.resolve("HEAD") == c2)
        let unchanged = try cache.fetch(branch: "main", credentials: credentials)
        #expect(unchanged == FetchResult(previousTip: c2, tip: c2) && !unchanged.moved)
        let c3 = try served.commit(files: ["k8s/ingress.yaml": bytes("kind: Ingress\n# 3\n")], message: "c3")
        let moved = try cache.fetch(branch: "main", credentials: credentials)
        #expect(moved == FetchResult(previousTip: c2, tip: c3) && moved.moved)
        #expect(try cache.readFiles(commit: "main", paths: ["k8s/ingress.yaml"]) == ["k8s/ingress.yaml": bytes("kind: Ingress\n# 3\n")])
    }

    @Test func hostKeyMismatchIsRefused() throws {
        let server = try SSHServer()
        defer { server.stop() }
        let served = try server.servedRepository()
        let impostor = try server.generateKey(named: "impostor")
        let knownHosts = try server.writeKnownHosts(
            named: "known_hosts_mismatch", "[127.0.0.1]:\(server.port) \(try server.publicKey(of: impostor))\n")
        let url = server.url(for: served.path)
        #expect {
            try GitRepository.cache(
                url: url, in: server.directory.appending("cache"),
                credentials: server.credentials(knownHosts: knownHosts))
        } throws: { error in
            guard let error = error as? GitError else { return false }
            return error.kind == .hostKey && error.remote == url && "\(error)".contains(url)
                && error.message.contains("does not match")
        }
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: server.directory.appending("cache"))) ?? []
        #expect(leftovers.isEmpty)
    }

    @Test func unknownHostIsRefused() throws {
        let server = try SSHServer()
        defer { server.stop() }
        let served = try server.servedRepository()
        // The right key, but for other names: the default port, another port, another host.
        let key = server.hostPublicKey
        let knownHosts = try server.writeKnownHosts(
            named: "known_hosts_unknown",
            "127.0.0.1 \(key)\n[127.0.0.1]:\(server.port + 1) \(key)\ngit.example.com \(key)\n")
        let url = server.url(for: served.path)
        #expect {
            try GitSource(
                repository: url, stateDirectory: server.directory.appending("state"),
                credentials: server.credentials(knownHosts: knownHosts)
            ).artifact()
        } throws: { error in
            guard let error = error as? GitError else { return false }
            return error.kind == .hostKey && error.remote == url && "\(error)".contains(url)
                && error.message.contains("not listed")
        }
    }

    @Test func wrongClientKeyFailsAuthenticationQuickly() throws {
        let server = try SSHServer()
        defer { server.stop() }
        let served = try server.servedRepository()
        let stranger = try server.generateKey(named: "stranger")
        let url = server.url(for: served.path)
        let started = ContinuousClock.now
        #expect {
            try GitRepository.cache(
                url: url, in: server.directory.appending("cache"),
                credentials: server.credentials(privateKey: stranger))
        } throws: { error in
            guard let error = error as? GitError else { return false }
            return error.kind == .authentication && error.remote == url && "\(error)".contains(url)
        }
        // One rejected attempt, not a retry loop (sshd would cut that off after MaxAuthTries as a network error).
        #expect(ContinuousClock.now - started < .seconds(20))
    }

    @Test func hashedKnownHostsEntryIsAccepted() throws {
        let server = try SSHServer()
        defer { server.stop() }
        let served = try server.servedRepository()
        let c1 = try served.resolve("main")
        let knownHosts = try server.writeKnownHosts(
            named: "known_hosts_hashed", "[127.0.0.1]:\(server.port) \(server.hostPublicKey)\n")
        try SSHServer.run(SSHServer.tool("ssh-keygen"), ["-H", "-f", knownHosts])
        let hashed = try String(contentsOfFile: knownHosts, encoding: .utf8)
        #expect(hashed.hasPrefix("|1|") && !hashed.contains("127.0.0.1"))

        let cache = try GitRepository.cache(
            url: server.url(for: served.path), in: server.directory.appending("cache"),
            credentials: server.credentials(knownHosts: knownHosts))
        #expect(try cache.resolve("main") == c1)
    }
}

/// A throwaway OpenSSH server on 127.0.0.1: its own host key, one authorised client key, a `known_hosts` file
/// for it, and a directory for the repositories it serves. `git fetch` over ssh runs `git-upload-pack` on the
/// server, i.e. the system `git` — acceptable for a test server (the product never runs `git`).
/// `stop()` (also called on deinit) terminates sshd and waits for it.
final class SSHServer: @unchecked Sendable {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let directory: TemporaryDirectory
    let port: Int
    /// The login user: whoever runs the tests (root in CI; sshd can only log in as its own user otherwise).
    let user: String
    /// "ssh-ed25519 AAAA…" (no comment), as in a known_hosts line.
    let hostPublicKey: String
    /// Private key whose public half is in authorized_keys.
    let clientKey: String
    /// `[127.0.0.1]:<port> <hostPublicKey>`.
    let knownHosts: String
    private let process = Process()
    private let log = Log()

    init() throws {
        let sshd = "/usr/sbin/sshd"
        guard FileManager.default.isExecutableFile(atPath: sshd) else {
            throw Failure(
                description:
                    "\(sshd) not found: the SSH end-to-end tests need openssh-server (scripts/install-deps.sh installs it)")
        }
        guard SSHServer.which("git-upload-pack") != nil else {
            throw Failure(
                description: "git-upload-pack not found in PATH: the SSH test server needs git (scripts/install-deps.sh)")
        }
        directory = try TemporaryDirectory(prefix: "gitway-sshd")
        user = SSHServer.currentUser()
        let hostKey = directory.appending("ssh_host_ed25519_key")
        clientKey = directory.appending("id_ed25519")
        try SSHServer.run(try SSHServer.tool("ssh-keygen"), ["-q", "-t", "ed25519", "-N", "", "-C", "host", "-f", hostKey])
        try SSHServer.run(try SSHServer.tool("ssh-keygen"), ["-q", "-t", "ed25519", "-N", "", "-C", "client", "-f", clientKey])
        hostPublicKey = try SSHServer.publicKey(of: hostKey)
        try (try SSHServer.publicKey(of: clientKey) + "\n").write(
            toFile: directory.appending("authorized_keys"), atomically: true, encoding: .utf8)

        port = try SSHServer.freePort()
        knownHosts = directory.appending("known_hosts")
        try "[127.0.0.1]:\(port) \(hostPublicKey)\n".write(toFile: knownHosts, atomically: true, encoding: .utf8)

        let config = directory.appending("sshd_config")
        try """
        ListenAddress 127.0.0.1
        Port \(port)
        HostKey \(hostKey)
        PidFile \(directory.appending("sshd.pid"))
        AuthorizedKeysFile \(directory.appending("authorized_keys"))
        AuthorizedKeysCommand none
        AllowUsers \(user)
        PubkeyAuthentication yes
        PasswordAuthentication no
        KbdInteractiveAuthentication no
        HostbasedAuthentication no
        PermitRootLogin prohibit-password
        StrictModes no
        UsePAM no
        PrintMotd no
        PrintLastLog no
        LogLevel VERBOSE

        """.write(toFile: config, atomically: true, encoding: .utf8)

        // Privilege separation directory, required when sshd runs as root (the openssh-server package creates it
        // only through its init scripts).
        if getuid() == 0 {
            try FileManager.default.createDirectory(
                atPath: "/run/sshd", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        }

        process.executableURL = URL(fileURLWithPath: sshd)
        process.arguments = ["-D", "-e", "-f", config]
        let stderr = Pipe()
        process.standardOutput = stderr
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        try process.run()
        log.collect(from: stderr.fileHandleForReading)
        do {
            try waitUntilListening(deadline: .now + .seconds(15))
        } catch {
            stop()
            throw error
        }
    }

    deinit {
        stop()
    }

    /// Terminates sshd and waits for it to exit. Idempotent.
    func stop() {
        if process.isRunning {
            process.terminate()
        }
        if process.processIdentifier != 0 {
            process.waitUntilExit()
        }
    }

    /// Everything sshd logged so far (for failure messages).
    var output: String { log.text }

    func url(for repositoryPath: String) -> String {
        "ssh://\(user)@127.0.0.1:\(port)\(repositoryPath)"
    }

    func credentials(privateKey: String? = nil, knownHosts: String? = nil) -> GitCredentials {
        let key = privateKey ?? clientKey
        return .sshKey(
            privateKeyPath: key, publicKeyPath: key + ".pub", passphrase: nil, knownHostsPath: knownHosts ?? self.knownHosts)
    }

    /// `served.git` with one commit on main.
    func servedRepository() throws -> GitRepository {
        let served = try GitRepository.create(at: directory.appending("served.git"), bare: true)
        try served.commit(files: ["a.yaml": bytes("a: 1\n")], message: "c1")
        return served
    }

    /// A new ed25519 key pair in the server directory, not authorised; returns the private key path.
    func generateKey(named name: String) throws -> String {
        let path = directory.appending(name)
        try SSHServer.run(try SSHServer.tool("ssh-keygen"), ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path])
        return path
    }

    func publicKey(of privateKey: String) throws -> String {
        try SSHServer.publicKey(of: privateKey)
    }

    func writeKnownHosts(named name: String, _ contents: String) throws -> String {
        let path = directory.appending(name)
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Polls until the port accepts a TCP connection, re-trying each time sshd logs something (it logs
    /// "Server listening" once bound); fails at once if sshd exits, and at `deadline`.
    private func waitUntilListening(deadline: ContinuousClock.Instant) throws {
        while true {
            let seen = log.version
            if SSHServer.accepts(port: port) { return }
            if !process.isRunning {
                process.waitUntilExit()
                throw Failure(
                    description: "sshd exited with status \(process.terminationStatus) before listening:\n\(log.text)")
            }
            if ContinuousClock.now >= deadline {
                throw Failure(description: "sshd did not accept connections on 127.0.0.1:\(port) in time:\n\(log.text)")
            }
            log.waitForChange(from: seen, until: deadline)
        }
    }

    // MARK: - Helpers

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    /// A port nothing listens on: bind port 0 on loopback, read back what the kernel chose, release it.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed: errno \(errno)") }
        defer { close(fd) }
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 ? getsockname(fd, $0, &length) : -1
            }
        }
        guard rc == 0 else { throw Failure(description: "cannot bind a loopback port: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }

    /// "type base64" of `<privateKey>.pub`, without the comment.
    static func publicKey(of privateKey: String) throws -> String {
        let line = try String(contentsOfFile: privateKey + ".pub", encoding: .utf8)
        return line.split(separator: " ").prefix(2).joined(separator: " ")
    }

    static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return (path.split(separator: ":") + ["/usr/bin", "/usr/sbin"]).map { "\($0)/\(name)" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func tool(_ name: String) throws -> String {
        guard let path = which(name) else {
            throw Failure(description: "\(name) not found in PATH: install openssh-client (scripts/install-deps.sh)")
        }
        return path
    }

    /// Runs `executable` to completion; throws with its output when it fails.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw Failure(
                description:
                    "\(executable) \(arguments.joined(separator: " ")) exited with \(process.terminationStatus): \(text)")
        }
        return text
    }

    static func currentUser() -> String {
        if let entry = getpwuid(getuid()), let name = entry.pointee.pw_name { return String(cString: name) }
        return ProcessInfo.processInfo.environment["USER"] ?? "root"
    }

    /// sshd's output, read on a dedicated thread (so the pipe never fills) and observable for changes.
    final class Log: @unchecked Sendable {
        private let condition = NSCondition()
        private var data = Data()
        private(set) var closed = false
        private var changes = 0

        var version: Int {
            condition.lock()
            defer { condition.unlock() }
            return changes
        }

        var text: String {
            condition.lock()
            defer { condition.unlock() }
            return String(decoding: data, as: UTF8.self)
        }

        func collect(from handle: FileHandle) {
            let thread = Thread { [self] in
                while true {
                    let chunk = handle.availableData
                    condition.lock()
                    if chunk.isEmpty { closed = true } else { data.append(chunk) }
                    changes += 1
                    condition.broadcast()
                    condition.unlock()
                    if chunk.isEmpty { return }
                }
            }
            thread.start()
        }

        /// Waits until more output arrives (or EOF) after `version`, or `deadline`.
        func waitForChange(from version: Int, until deadline: ContinuousClock.Instant) {
            condition.lock()
            defer { condition.unlock() }
            while changes == version && !closed {
                let remaining = ContinuousClock.now.duration(to: deadline)
                guard remaining > .zero else { return }
                let seconds = Double(remaining.components.seconds) + Double(remaining.components.attoseconds) / 1e18
                if !condition.wait(until: Date(timeIntervalSinceNow: seconds)) { return }
            }
        }
    }
}
