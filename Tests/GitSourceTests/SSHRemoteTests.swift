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
                && error.message.contains(stranger) && error.message.contains("user \(server.user)")
        }
        // One rejected attempt, not a retry loop (sshd would cut that off after MaxAuthTries as a network error).
        #expect(ContinuousClock.now - started < .seconds(20))

        // Without a user in the URL the login is "git" (as for hosted Git), and the message says so.
        let noUser = "ssh://127.0.0.1:\(server.port)\(served.path)"
        #expect {
            try GitRepository.cache(url: noUser, in: server.directory.appending("cache"), credentials: server.credentials())
        } throws: { error in
            guard let error = error as? GitError else { return false }
            return error.kind == .authentication && error.remote == noUser && error.message.contains("user git")
        }
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

    @Test func passphraseProtectedKey() throws {
        let server = try SSHServer()
        defer { server.stop() }
        let served = try server.servedRepository()
        let url = server.url(for: served.path)
        let locked = try server.generateKey(named: "locked", passphrase: "open-sesame", authorize: true)

        // No public key file: libssh2 derives it from the private key.
        let cache = try GitRepository.cache(
            url: url, in: server.directory.appending("cache"),
            credentials: .sshKey(
                privateKeyPath: locked, publicKeyPath: nil, passphrase: "open-sesame", knownHostsPath: server.knownHosts))
        #expect(try cache.resolve("main") == served.resolve("main"))

        #expect {
            try GitRepository.cache(
                url: url, in: server.directory.appending("cache2"),
                credentials: .sshKey(
                    privateKeyPath: locked, publicKeyPath: locked + ".pub", passphrase: "wrong-secret",
                    knownHostsPath: server.knownHosts))
        } throws: { error in
            guard let error = error as? GitError else { return false }
            return error.kind == .authentication && error.remote == url && "\(error)".contains(locked)
                && !"\(error)".contains("wrong-secret")
        }
    }

    /// Real servers have several host keys (Debian's openssh-server makes ed25519, ECDSA and RSA; so do GitHub and
    /// GitLab) and libssh2 asks for ECDSA first, so a known_hosts with only the ed25519 line must give a clear
    /// "add that key type" refusal, not a man-in-the-middle alarm; with all of them (`ssh-keyscan`) it works.
    @Test func serverWithSeveralHostKeyTypes() throws {
        let server = try SSHServer(hostKeyTypes: ["ed25519", "ecdsa", "rsa"])
        defer { server.stop() }
        let served = try server.servedRepository()
        let url = server.url(for: served.path)
        let name = "[127.0.0.1]:\(server.port)"
        let onlyEd25519 = try server.writeKnownHosts(named: "known_hosts_ed25519", "\(name) \(server.hostPublicKeys[0])\n")
        #expect {
            try GitRepository.cache(
                url: url, in: server.directory.appending("cache"), credentials: server.credentials(knownHosts: onlyEd25519))
        } throws: { error in
            guard let error = error as? GitError else { return false }
            return error.kind == .hostKey && error.remote == url && !error.message.contains("man-in-the-middle")
                && error.message.contains("lists only ssh-ed25519") && error.message.contains(name)
        }

        let all = try server.writeKnownHosts(
            named: "known_hosts_all", server.hostPublicKeys.map { "\(name) \($0)\n" }.joined())
        let cache = try GitRepository.cache(
            url: url, in: server.directory.appending("cache"), credentials: server.credentials(knownHosts: all))
        #expect(try cache.resolve("main") == served.resolve("main"))

        // A different key of the negotiated type is still a mismatch.
        let impostor = try server.generateKey(named: "impostor-ecdsa", type: "ecdsa")
        let wrong = try server.writeKnownHosts(
            named: "known_hosts_wrong",
            "\(name) \(server.hostPublicKeys[0])\n\(name) \(try server.publicKey(of: impostor))\n")
        #expect {
            try GitRepository.cache(
                url: url, in: server.directory.appending("cache-wrong"), credentials: server.credentials(knownHosts: wrong))
        } throws: { error in
            guard let error = error as? GitError else { return false }
            return error.kind == .hostKey && error.message.contains("man-in-the-middle")
        }
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
    /// One per host key type, in the order asked for.
    let hostPublicKeys: [String]
    /// Private key whose public half is in authorized_keys.
    let clientKey: String
    /// `[127.0.0.1]:<port> <hostPublicKey>`.
    let knownHosts: String
    private let sshd: Child
    private let log: Log

    /// Host keys of these types (`ssh-keygen -t`), the first one in `hostPublicKey` and `knownHosts`.
    init(hostKeyTypes: [String] = ["ed25519"]) throws {
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
        user = SSHServer.currentUser()
        let directory = try TemporaryDirectory(prefix: "gitway-sshd")
        self.directory = directory
        let hostKeys = hostKeyTypes.map { directory.appending("ssh_host_\($0)_key") }
        for (type, path) in zip(hostKeyTypes, hostKeys) {
            try SSHServer.run(try SSHServer.tool("ssh-keygen"), ["-q", "-t", type, "-N", "", "-C", "host", "-f", path])
        }
        hostPublicKeys = try hostKeys.map { try SSHServer.publicKey(of: $0) }
        clientKey = directory.appending("id_ed25519")
        try SSHServer.run(try SSHServer.tool("ssh-keygen"), ["-q", "-t", "ed25519", "-N", "", "-C", "client", "-f", clientKey])
        hostPublicKey = hostPublicKeys[0]
        try (try SSHServer.publicKey(of: clientKey) + "\n").write(
            toFile: directory.appending("authorized_keys"), atomically: true, encoding: .utf8)

        knownHosts = directory.appending("known_hosts")
        // A port found free can be taken (by any outgoing connection's local port) before sshd binds it: retry then.
        var attempt = 1
        while true {
            let port = try SSHServer.freePort()
            let config = directory.appending("sshd_config")
            try """
            ListenAddress 127.0.0.1
            Port \(port)
            \(hostKeys.map { "HostKey \($0)" }.joined(separator: "\n"))
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

            // Privilege separation directory, required when sshd runs as root (the openssh-server package creates
            // it only through its init scripts).
            if getuid() == 0 {
                try FileManager.default.createDirectory(
                    atPath: "/run/sshd", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            }

            let child = try Child(sshd, ["-D", "-e", "-f", config])
            let log = Log()
            log.collect(from: child.output)
            do {
                try SSHServer.waitUntilListening(child, log: log, port: port, deadline: .now + .seconds(15))
                self.port = port
                self.sshd = child
                self.log = log
                break
            } catch {
                child.terminate()
                if attempt < 3 && log.text.contains("Address already in use") {
                    attempt += 1
                    continue
                }
                throw error
            }
        }
        try "[127.0.0.1]:\(port) \(hostPublicKey)\n".write(toFile: knownHosts, atomically: true, encoding: .utf8)
    }

    deinit {
        stop()
    }

    /// Terminates sshd and waits for it to exit. Idempotent.
    func stop() {
        sshd.terminate()
    }

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

    /// A new key pair in the server directory (not authorised unless asked); returns the private key path.
    func generateKey(
        named name: String, type: String = "ed25519", passphrase: String = "", authorize: Bool = false
    ) throws -> String {
        let path = directory.appending(name)
        try SSHServer.run(try SSHServer.tool("ssh-keygen"), ["-q", "-t", type, "-N", passphrase, "-C", name, "-f", path])
        if authorize {
            let file = directory.appending("authorized_keys")
            let keys = try String(contentsOfFile: file, encoding: .utf8) + publicKey(of: path) + "\n"
            try keys.write(toFile: file, atomically: true, encoding: .utf8)
        }
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

    /// Waits until sshd has logged that it listens on `port` and the port accepts a TCP connection (so it is this
    /// sshd, not whoever else may have taken the port). Re-checks whenever sshd logs something; fails at once if
    /// sshd exits, and at `deadline`.
    private static func waitUntilListening(
        _ sshd: Child, log: Log, port: Int, deadline: ContinuousClock.Instant
    ) throws {
        while true {
            let seen = log.version
            if log.text.contains("Server listening on 127.0.0.1 port \(port).") && accepts(port: port) { return }
            if let status = sshd.exitStatus() {
                throw Failure(description: "sshd \(status) before listening:\n\(log.text)")
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
        let child = try Child(executable, arguments)
        let text = String(decoding: child.output.readDataToEndOfFile(), as: UTF8.self)
        let status = child.waitForExit()
        guard status == "exited with status 0" else {
            throw Failure(description: "\(executable) \(arguments.joined(separator: " ")) \(status): \(text)")
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

    /// A child process started with posix_spawn, stdout and stderr to a pipe (`output`), stdin from /dev/null.
    /// Not Foundation's `Process`: it notices a child's exit by an inherited socket closing, and sshd closes every
    /// inherited descriptor at startup, so `Process` then blocks in waitpid on its shared monitor thread and hangs
    /// every other `Process` of the test run.
    final class Child: @unchecked Sendable {
        let pid: pid_t
        let output: FileHandle
        private let lock = NSLock()
        private var status: String?
        private static let spawnLock = NSLock()

        init(_ executable: String, _ arguments: [String]) throws {
            // pipe2 is not imported; pipe + FD_CLOEXEC under a lock that every spawn here takes, so no child
            // started concurrently by another test inherits (and holds open) the other's write end.
            Child.spawnLock.lock()
            defer { Child.spawnLock.unlock() }
            var fds: [Int32] = [0, 0]
            guard pipe(&fds) == 0 else { throw Failure(description: "pipe failed: errno \(errno)") }
            defer { close(fds[1]) }
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
            posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
            // Default signal dispositions and an empty mask: the test runner's threads may block or ignore some.
            var attributes = posix_spawnattr_t()
            posix_spawnattr_init(&attributes)
            defer { posix_spawnattr_destroy(&attributes) }
            var signals = sigset_t()
            sigemptyset(&signals)
            posix_spawnattr_setsigmask(&attributes, &signals)
            sigfillset(&signals)
            posix_spawnattr_setsigdefault(&attributes, &signals)
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

            let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
            defer { argv.forEach { free($0) } }
            var pid: pid_t = 0
            let rc = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
            guard rc == 0 else {
                close(fds[0])
                throw Failure(description: "cannot start \(executable): \(String(cString: strerror(rc)))")
            }
            self.pid = pid
            output = FileHandle(fileDescriptor: fds[0], closeOnDealloc: true)
        }

        /// "exited with status N" / "killed by signal N" once the child has exited, else nil (does not block).
        func exitStatus() -> String? {
            reap(options: WNOHANG)
        }

        /// Blocks until the child exits.
        @discardableResult
        func waitForExit() -> String {
            reap(options: 0) ?? "in an unknown state"
        }

        /// SIGTERM, then waits for the exit. Idempotent.
        func terminate() {
            if exitStatus() == nil {
                kill(pid, SIGTERM)
                waitForExit()
            }
        }

        private func reap(options: Int32) -> String? {
            lock.lock()
            defer { lock.unlock() }
            if let status { return status }
            var raw: Int32 = 0
            var rc: pid_t
            repeat { rc = waitpid(pid, &raw, options) } while rc < 0 && errno == EINTR
            guard rc == pid else { return nil }
            let signal = raw & 0x7f
            status = signal == 0 ? "exited with status \((raw >> 8) & 0xff)" : "killed by signal \(signal)"
            return status
        }
    }
}
