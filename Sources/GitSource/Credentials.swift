import CGit2
import Foundation

/// How to authenticate to a remote.
public enum GitCredentials: Sendable, Hashable {
    case none
    /// HTTPS token: sent as username "x-access-token" with the token as password (GitHub, GitLab, Gitea accept it).
    case token(String)
    case userPassword(user: String, password: String)
    /// SSH key pair. `knownHostsPath` enables host-key checking against that file (unknown hosts are refused);
    /// without it libgit2's default checking applies (`~/.ssh/known_hosts`, unknown hosts refused). The file
    /// should list every host key type of the server (as `ssh-keyscan` prints them, verified out of band):
    /// libssh2 asks for the ECDSA key first and libgit2 1.5 cannot be told to prefer the type in this file.
    case sshKey(privateKeyPath: String, publicKeyPath: String?, passphrase: String?, knownHostsPath: String?)

    /// Strings that must never appear in error messages.
    var secrets: [String] {
        switch self {
        case .none: return []
        case .token(let token): return [token]
        case .userPassword(_, let password): return [password]
        case .sshKey(_, _, let passphrase, _): return passphrase.map { [$0] } ?? []
        }
    }
}

/// Per-operation state handed to libgit2's C callbacks through the `payload` pointer.
/// It records why a callback refused, because libgit2 only sees a return code.
final class RemoteSession {
    let url: String
    let credentials: GitCredentials
    var credentialAttempts = 0
    /// Why the remote is asking again after our one answer (more specific for SSH keys).
    private var rejection = "the remote rejected the credentials"
    /// Set when the credentials callback gave up: the operation failed because of authentication.
    var authenticationFailure: String?
    /// Set when the certificate callback refused the host key.
    var hostKeyFailure: String?

    init(url: String, credentials: GitCredentials) {
        self.url = url
        self.credentials = credentials
    }

    /// The URL as shown in errors and logs.
    var redactedURL: String { redactURL(url) }

    /// Installs the credential and certificate callbacks; `self` must outlive the libgit2 call.
    func install(into callbacks: inout git_remote_callbacks) {
        callbacks.payload = Unmanaged.passUnretained(self).toOpaque()
        callbacks.credentials = { out, url, usernameFromURL, allowedTypes, payload in
            guard let out, let payload else { return -1 }
            let session = Unmanaged<RemoteSession>.fromOpaque(payload).takeUnretainedValue()
            return session.acquireCredential(
                out, usernameFromURL: usernameFromURL.map { String(cString: $0) }, allowed: allowedTypes)
        }
        callbacks.certificate_check = { cert, valid, host, payload in
            guard let payload else { return -1 }
            let session = Unmanaged<RemoteSession>.fromOpaque(payload).takeUnretainedValue()
            return session.checkCertificate(cert, valid: valid != 0, host: host.map { String(cString: $0) } ?? "")
        }
    }

    /// Converts a failed libgit2 remote operation into a `GitError` naming the (redacted) remote.
    func error(_ code: Int32) -> GitError {
        var error = GitError.libgit2(code, "", remote: redactedURL)
        if let reason = authenticationFailure {
            error.kind = .authentication
            error.message = reason
        } else if let reason = hostKeyFailure {
            error.kind = .hostKey
            error.message = reason
        } else if error.kind == .other || error.kind == .io || error.kind == .notARepository
            || error.kind == .unknownRef
        {
            // A remote that cannot be read at all (missing path, DNS failure) is a reachability problem.
            error.kind = .network
        }
        error.message = redactSecrets(error.message)
        return error
    }

    func redactSecrets(_ text: String) -> String {
        var text = text.replacingOccurrences(of: url, with: redactedURL)
        for secret in credentials.secrets where !secret.isEmpty {
            text = text.replacingOccurrences(of: secret, with: "***")
        }
        return text
    }

    private func fail(_ reason: String) -> Int32 {
        authenticationFailure = reason
        git_error_set_str(Int32(bitPattern: GIT_ERROR_NET.rawValue), reason)
        return GIT_EAUTH.rawValue
    }

    /// libgit2 calls this again after every rejected credential; we answer once, then give up, so a wrong
    /// password fails fast instead of looping.
    func acquireCredential(
        _ out: UnsafeMutablePointer<UnsafeMutablePointer<git_credential>?>, usernameFromURL: String?, allowed: UInt32
    ) -> Int32 {
        func allows(_ type: git_credential_t) -> Bool { allowed & type.rawValue != 0 }
        // SSH without a user in the URL first asks for the user name only; that is not an attempt.
        if allows(GIT_CREDENTIAL_USERNAME) && !allows(GIT_CREDENTIAL_SSH_KEY) {
            return git_credential_username_new(out, usernameFromURL ?? sshUser)
        }
        credentialAttempts += 1
        if credentialAttempts > 1 {
            return fail(rejection)
        }
        switch credentials {
        case .none:
            if allows(GIT_CREDENTIAL_SSH_KEY) {
                // No key configured: let an ssh-agent answer, as the git command line would.
                return git_credential_ssh_key_from_agent(out, usernameFromURL ?? sshUser)
            }
            return fail("the remote requires credentials and none were configured")
        case .token(let token):
            guard allows(GIT_CREDENTIAL_USERPASS_PLAINTEXT) else {
                return fail("a token cannot be used for this transport (use an SSH key)")
            }
            return git_credential_userpass_plaintext_new(out, "x-access-token", token)
        case .userPassword(let user, let password):
            guard allows(GIT_CREDENTIAL_USERPASS_PLAINTEXT) else {
                return fail("a user/password cannot be used for this transport (use an SSH key)")
            }
            return git_credential_userpass_plaintext_new(out, user, password)
        case .sshKey(let privateKey, let publicKey, let passphrase, _):
            guard allows(GIT_CREDENTIAL_SSH_KEY) else {
                return fail("an SSH key cannot be used for this transport (use a token or user/password)")
            }
            guard FileManager.default.isReadableFile(atPath: privateKey) else {
                return fail("SSH private key \(privateKey) is not readable")
            }
            let user = usernameFromURL ?? sshUser
            // libgit2 clears libssh2's reason before asking again, so say what was tried: the user matters (a URL
            // without one logs in as "git") and a wrong passphrase looks exactly like an unauthorised key.
            rejection = "the remote did not accept SSH key \(privateKey) for user \(user) (not authorised, or wrong passphrase)"
            return git_credential_ssh_key_new(out, user, publicKey, privateKey, passphrase)
        }
    }

    private var sshUser: String {
        RemoteURL(url).user ?? "git"
    }

    /// SSH host keys are checked against `knownHostsPath` when given; TLS certificates keep libgit2's checks.
    func checkCertificate(_ cert: UnsafeMutablePointer<git_cert>?, valid: Bool, host: String) -> Int32 {
        guard let cert, cert.pointee.cert_type == GIT_CERT_HOSTKEY_LIBSSH2,
            case .sshKey(_, _, _, let knownHostsPath?) = credentials
        else { return GIT_PASSTHROUGH.rawValue }
        let hostKey = UnsafeRawPointer(cert).assumingMemoryBound(to: git_cert_hostkey.self).pointee
        guard hostKey.type.rawValue & GIT_CERT_SSH_RAW.rawValue != 0, let raw = hostKey.hostkey,
            hostKey.hostkey_len > 0
        else { return rejectHost("the server did not provide its raw host key") }
        let key = [UInt8](UnsafeRawBufferPointer(start: raw, count: hostKey.hostkey_len))
        let port = RemoteURL(url).port
        let host = host.isEmpty ? (RemoteURL(url).host ?? "") : host
        // Named as in known_hosts (`[host]:port` off port 22), so the operator can find or add the line.
        let name = KnownHosts.name(host: host, port: port)
        let keyType = KnownHosts.keyType(of: key) ?? "unknown"
        let known: String
        do {
            known = try String(contentsOfFile: knownHostsPath, encoding: .utf8)
        } catch {
            return rejectHost("cannot read known_hosts file \(knownHostsPath): \(error.localizedDescription)")
        }
        switch KnownHosts(known).verify(host: host, port: port, key: key) {
        case .match:
            return 0
        case .mismatch:
            return rejectHost(
                "the \(keyType) host key of \(name) does not match \(knownHostsPath) (possible man-in-the-middle)")
        case .revoked:
            return rejectHost("the \(keyType) host key of \(name) is revoked in \(knownHostsPath)")
        case .unknown:
            return rejectHost("host \(name) is not listed in \(knownHostsPath)")
        case .otherKeyTypes(let listed):
            // libgit2 1.5 cannot be told which host key type to ask for (see `KnownHosts.verify`).
            return rejectHost(
                "\(name) presented its \(keyType) host key but \(knownHostsPath) lists only "
                    + "\(listed.joined(separator: ", ")) for it; add the host's \(keyType) key (verified out of band)")
        }
    }

    private func rejectHost(_ reason: String) -> Int32 {
        hostKeyFailure = reason
        git_error_set_str(Int32(bitPattern: GIT_ERROR_SSH.rawValue), reason)
        return GIT_ECERTIFICATE.rawValue
    }
}

/// The parts of a remote location we need: scheme URLs and scp-like `user@host:path`.
struct RemoteURL {
    var scheme: String?
    var user: String?
    var host: String?
    var port: Int?

    init(_ url: String) {
        if let range = url.range(of: "://") {
            scheme = url[..<range.lowerBound].lowercased()
            let rest = url[range.upperBound...]
            var authority = Substring(rest.prefix { $0 != "/" })
            if let at = authority.lastIndex(of: "@") {
                let userInfo = authority[..<at]
                user = String(userInfo.prefix { $0 != ":" })
                authority = authority[authority.index(after: at)...]
            }
            if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
                host = String(authority[authority.index(after: authority.startIndex)..<close])
                let after = authority[authority.index(after: close)...]
                if after.hasPrefix(":") { port = Int(after.dropFirst()) }
            } else if let colon = authority.lastIndex(of: ":") {
                host = String(authority[..<colon])
                port = Int(authority[authority.index(after: colon)...])
            } else {
                host = authority.isEmpty ? nil : String(authority)
            }
        } else if RemoteURL.isSCPLike(url), let colon = url.firstIndex(of: ":") {
            scheme = "ssh"
            var authority = url[..<colon]
            if let at = authority.lastIndex(of: "@") {
                user = String(authority[..<at])
                authority = authority[authority.index(after: at)...]
            }
            host = String(authority)
        }
    }

    /// `host:path` or `user@host:path` as git understands it: a colon with no slash before it.
    static func isSCPLike(_ location: String) -> Bool {
        guard !location.contains("://"), let colon = location.firstIndex(of: ":") else { return false }
        return !location[..<colon].contains("/") && colon != location.startIndex
    }

    /// Whether `location` names a remote (or file://) rather than a local path.
    static func isRemote(_ location: String) -> Bool {
        location.contains("://") || isSCPLike(location)
    }
}

/// Removes secrets from a URL for display: the whole user-info for http(s) (a bare user-info may be a token),
/// the password for other schemes.
public func redactURL(_ url: String) -> String {
    guard let range = url.range(of: "://") else { return url }
    let scheme = url[..<range.lowerBound].lowercased()
    let rest = url[range.upperBound...]
    let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
    guard let at = rest[..<authorityEnd].lastIndex(of: "@") else { return url }
    let userInfo = rest[..<at]
    let hostAndPath = rest[rest.index(after: at)...]
    let prefix = url[..<range.upperBound]
    if scheme == "http" || scheme == "https" {
        return String(prefix + hostAndPath)
    }
    let user = userInfo.prefix { $0 != ":" }
    return String(prefix + user + "@" + hostAndPath)
}
