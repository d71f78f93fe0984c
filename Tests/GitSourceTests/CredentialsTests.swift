import CGit2
import Foundation
import Testing

@testable import GitSource

@Suite struct CredentialsTests {
    @Test func redaction() {
        #expect(redactURL("https://user:pw@example.com/x.git") == "https://example.com/x.git")
        #expect(redactURL("https://TOKEN@example.com/x.git") == "https://example.com/x.git")
        #expect(redactURL("ssh://git:pw@example.com:2222/x.git") == "ssh://git@example.com:2222/x.git")
        #expect(redactURL("ssh://git@example.com/x.git") == "ssh://git@example.com/x.git")
        #expect(redactURL("git@example.com:org/x.git") == "git@example.com:org/x.git")
        #expect(redactURL("https://example.com/a@b") == "https://example.com/a@b")
        #expect(redactURL("/srv/repo") == "/srv/repo")
    }

    @Test func remoteURLParsing() {
        let ssh = RemoteURL("ssh://deploy@git.example.com:2222/org/repo.git")
        #expect(ssh.scheme == "ssh" && ssh.user == "deploy" && ssh.host == "git.example.com" && ssh.port == 2222)
        let scp = RemoteURL("git@github.com:org/repo.git")
        #expect(scp.scheme == "ssh" && scp.user == "git" && scp.host == "github.com" && scp.port == nil)
        let v6 = RemoteURL("ssh://[::1]:22/x")
        #expect(v6.host == "::1" && v6.port == 22)
        #expect(RemoteURL.isRemote("file:///srv/x.git"))
        #expect(RemoteURL.isRemote("git@github.com:org/repo.git"))
        #expect(RemoteURL.isRemote("host:path"))
        #expect(!RemoteURL.isRemote("/srv/repo"))
        #expect(!RemoteURL.isRemote("./a:b"))
        #expect(!RemoteURL.isRemote("relative/dir"))
    }

    @Test func credentialCallbackGivesUpAfterFirstFailure() throws {
        LibGit2.ensureInitialized()
        let session = RemoteSession(url: "https://example.com/x.git", credentials: .token("t"))
        let allowed = GIT_CREDENTIAL_USERPASS_PLAINTEXT.rawValue
        var credential: UnsafeMutablePointer<git_credential>?
        #expect(session.acquireCredential(&credential, usernameFromURL: nil, allowed: allowed) == 0)
        #expect(credential != nil)
        git_credential_free(credential)
        credential = nil
        #expect(session.acquireCredential(&credential, usernameFromURL: nil, allowed: allowed) == GIT_EAUTH.rawValue)
        #expect(session.authenticationFailure != nil)
        let error = session.error(GIT_EAUTH.rawValue)
        #expect(error.kind == .authentication)
        #expect(error.description.hasPrefix("cannot fetch https://example.com/x.git: authentication failed: "))

        let none = RemoteSession(url: "https://example.com/x.git", credentials: .none)
        #expect(none.acquireCredential(&credential, usernameFromURL: nil, allowed: allowed) < 0)
        #expect(none.error(-1).kind == .authentication)

        let wrongType = RemoteSession(url: "ssh://git@example.com/x.git", credentials: .token("t"))
        let sshOnly = GIT_CREDENTIAL_SSH_KEY.rawValue
        #expect(wrongType.acquireCredential(&credential, usernameFromURL: "git", allowed: sshOnly) < 0)
        #expect(wrongType.error(-1).kind == .authentication)
    }

    /// An ed25519 key blob: string "ssh-ed25519" + 32 key bytes.
    static func keyBlob(_ seed: UInt8) -> [UInt8] {
        let type = Array("ssh-ed25519".utf8)
        return [0, 0, 0, UInt8(type.count)] + type + [0, 0, 0, 32] + [UInt8](repeating: seed, count: 32)
    }

    @Test func knownHostsVerification() {
        let key = Self.keyBlob(1)
        let other = Self.keyBlob(2)
        let b64 = Data(key).base64EncodedString()
        let salt: [UInt8] = Array(0..<20)
        let hashed =
            "|1|\(Data(salt).base64EncodedString())|"
            + Data(SHA1.hmac(key: salt, message: bytes("hashed.example.com"))).base64EncodedString()
        let file = """
            # comment
            git.example.com,10.0.0.1 ssh-ed25519 \(b64) comment
            [git.example.com]:2222 ssh-ed25519 \(Data(other).base64EncodedString())
            *.wild.example.com,!bad.wild.example.com ssh-ed25519 \(b64)
            \(hashed) ssh-ed25519 \(b64)
            @revoked revoked.example.com ssh-ed25519 \(b64)
            revoked.example.com ssh-ed25519 \(b64)
            garbage line
            """
        let hosts = KnownHosts(file)
        #expect(KnownHosts.keyType(of: key) == "ssh-ed25519")
        #expect(hosts.verify(host: "git.example.com", port: nil, key: key) == .match)
        #expect(hosts.verify(host: "GIT.example.com", port: 22, key: key) == .match)
        #expect(hosts.verify(host: "10.0.0.1", port: nil, key: key) == .match)
        #expect(hosts.verify(host: "git.example.com", port: nil, key: other) == .mismatch)
        #expect(hosts.verify(host: "git.example.com", port: 2222, key: other) == .match)
        #expect(hosts.verify(host: "git.example.com", port: 2222, key: key) == .mismatch)
        #expect(hosts.verify(host: "a.wild.example.com", port: nil, key: key) == .match)
        #expect(hosts.verify(host: "bad.wild.example.com", port: nil, key: key) == .unknown)
        #expect(hosts.verify(host: "hashed.example.com", port: nil, key: key) == .match)
        #expect(hosts.verify(host: "hashed2.example.com", port: nil, key: key) == .unknown)
        #expect(hosts.verify(host: "revoked.example.com", port: nil, key: key) == .revoked)
        #expect(hosts.verify(host: "unknown.example.com", port: nil, key: key) == .unknown)
        // Another key type than those listed: not a mismatch (the client picks which host key it is shown).
        let ecdsaType = bytes("ecdsa-sha2-nistp256")
        let ecdsa = [0, 0, 0, UInt8(ecdsaType.count)] + ecdsaType + [0, 0, 0, 8] + bytes("nistp256") + [0, 0, 0, 1, 4]
        #expect(hosts.verify(host: "git.example.com", port: nil, key: ecdsa) == .otherKeyTypes(["ssh-ed25519"]))
        #expect(hosts.verify(host: "unknown.example.com", port: nil, key: ecdsa) == .unknown)
        #expect(KnownHosts.name(host: "h", port: nil) == "h" && KnownHosts.name(host: "h", port: 22) == "h")
        #expect(KnownHosts.name(host: "h", port: 2222) == "[h]:2222")
    }

    @Test func errorDescriptions() {
        let local = GitError(kind: .unknownRef, message: "unknown ref 'nope' in /r")
        #expect(local.description == "unknown ref 'nope' in /r")
        let remote = GitError(kind: .network, remote: "https://h/x.git", message: "connection refused")
        #expect(remote.description == "cannot fetch https://h/x.git: network error: connection refused")
    }
}
