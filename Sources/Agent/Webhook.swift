import Foundation
import GitSource
import NIOConcurrencyHelpers

/// The Git hosts whose push webhooks the admin API accepts, at `POST /hooks/<provider>`.
public enum WebhookProvider: String, Sendable, CaseIterable {
    /// `X-Hub-Signature-256: sha256=<hex>`, `X-GitHub-Event: push|ping`.
    case github
    /// `X-Gitlab-Token: <secret>` (GitLab sends the secret itself), `X-Gitlab-Event: Push Hook`.
    case gitlab
    /// `X-Gitea-Signature: <hex>` or `X-Gogs-Signature: <hex>`, `X-Gitea-Event`/`X-Gogs-Event: push`.
    case gitea
    /// `X-Signature: sha256=<hex>`; the body is `{"ref": "refs/heads/<branch>"}`, or empty for "sync now".
    case generic
}

/// The shared webhook secret (`--webhook-secret-file`). Its description is redacted so it never reaches a log.
public struct WebhookSecret: Sendable, CustomStringConvertible {
    let bytes: [UInt8]

    public init(_ text: String) {
        bytes = Array(text.trimmingCharacters(in: .whitespacesAndNewlines).utf8)
    }

    /// The contents of `path`, trimmed; nil when the file cannot be read.
    public init?(contentsOfFile path: String) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        self.init(text)
    }

    public var isEmpty: Bool { bytes.isEmpty }
    public var description: String { "<redacted>" }
}

/// One webhook delivery as received: lower-cased header names, the body (at most the size cap).
public struct WebhookRequest: Sendable {
    public var headers: [String: String]
    public var body: [UInt8]
    /// The body was over the cap (its bytes were discarded).
    public var tooLarge: Bool

    public init(headers: [String: String], body: [UInt8], tooLarge: Bool = false) {
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
        self.body = body
        self.tooLarge = tooLarge
    }

    func header(_ name: String) -> String? { headers[name] }
}

/// What a delivery leads to: the HTTP answer, the metric label, and whether a sync is queued.
public struct WebhookDecision: Sendable, Equatable {
    public enum Result: String, Sendable, CaseIterable {
        /// Verified, a push to the followed branch: a sync is queued (202).
        case queued
        /// Verified, but nothing to do: another branch, a tag, another event (202, so the host does not retry).
        case ignored
        /// GitHub's `ping` at hook creation (200).
        case ping
        /// Secret configured, and the signature or token is missing or wrong (401).
        case unauthorized
        /// Body over the cap (413).
        case tooLarge = "too_large"
        /// The body is not the JSON of a push (400).
        case malformed
    }

    public var result: Result
    public var status: Int
    /// Why, in a few words (the response body and the log say it).
    public var reason: String
    public var trigger: SyncTrigger?

    /// `{"result":"ignored","reason":"…"}`.
    var body: String {
        let object = ["result": result.rawValue, "reason": reason]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

/// Verifies webhook deliveries and decides whether they call for a sync. Pure except for its counters.
///
/// Order of checks: size, then authenticity, and only then the payload, so an unauthenticated caller cannot make
/// the agent parse anything. The payload is used only to learn the pushed ref; which commit to deploy always comes
/// from fetching the branch, never from the payload.
public final class WebhookReceiver: Sendable {
    public static let defaultMaxBodyBytes = 1 << 20

    let secret: WebhookSecret?
    let branch: String
    let maxBodyBytes: Int
    private let counts = NIOLockedValueBox<[Key: Int]>([:])

    struct Key: Hashable, Comparable {
        var provider: String
        var result: String
        static func < (a: Key, b: Key) -> Bool { (a.provider, a.result) < (b.provider, b.result) }
    }

    public init(secret: WebhookSecret?, branch: String, maxBodyBytes: Int = WebhookReceiver.defaultMaxBodyBytes) {
        self.secret = (secret?.isEmpty ?? true) ? nil : secret
        self.branch = branch
        self.maxBodyBytes = maxBodyBytes
    }

    public var requiresSignature: Bool { secret != nil }

    /// Requests by provider and result, for `gitway_webhook_requests_total`.
    public var requestCounts: [(provider: String, result: String, count: Int)] {
        counts.withLockedValue { $0 }.sorted { $0.key < $1.key }.map { ($0.key.provider, $0.key.result, $0.value) }
    }

    /// Decides, and counts the decision.
    public func receive(provider: WebhookProvider, _ request: WebhookRequest) -> WebhookDecision {
        let decision = evaluate(provider: provider, request)
        counts.withLockedValue { $0[Key(provider: provider.rawValue, result: decision.result.rawValue), default: 0] += 1 }
        return decision
    }

    func evaluate(provider: WebhookProvider, _ request: WebhookRequest) -> WebhookDecision {
        if request.tooLarge || request.body.count > maxBodyBytes {
            return WebhookDecision(result: .tooLarge, status: 413, reason: "body over \(maxBodyBytes) bytes")
        }
        if let failure = authenticate(provider: provider, request) {
            return WebhookDecision(result: .unauthorized, status: 401, reason: failure)
        }
        let delivery = deliveryID(provider: provider, request)
        // Which event is it? Only pushes move a branch.
        switch provider {
        case .github:
            let event = request.header("x-github-event") ?? ""
            if event == "ping" { return WebhookDecision(result: .ping, status: 200, reason: "pong") }
            if event != "push" { return ignored("event '\(event)' is not a push") }
        case .gitlab:
            let event = request.header("x-gitlab-event") ?? ""
            if event == "Tag Push Hook" { return ignored("tag push") }
            if event != "Push Hook" && event != "System Hook" { return ignored("event '\(event)' is not a push") }
        case .gitea:
            // Gogs and older Gitea send only the X-Gogs-* headers.
            if let event = request.header("x-gitea-event") ?? request.header("x-gogs-event"), event != "push" {
                return ignored("event '\(event)' is not a push")
            }
        case .generic:
            if request.body.allSatisfy({ $0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 }) {
                return queued(provider, delivery, reason: "sync requested")
            }
        }
        guard let json = try? JSONSerialization.jsonObject(with: Data(request.body)), let payload = json as? [String: Any]
        else {
            return WebhookDecision(result: .malformed, status: 400, reason: "body is not a JSON object")
        }
        if provider == .gitlab, let kind = payload["object_kind"] as? String, kind != "push" {
            return ignored("object_kind '\(kind)' is not a push")
        }
        guard let refValue = payload["ref"] else {
            if provider == .generic { return queued(provider, delivery, reason: "sync requested") }
            return WebhookDecision(result: .malformed, status: 400, reason: "push payload has no \"ref\"")
        }
        guard let ref = refValue as? String else {
            return WebhookDecision(result: .malformed, status: 400, reason: "\"ref\" is not a string")
        }
        return decide(ref: ref, provider: provider, delivery: delivery)
    }

    /// Only `refs/heads/<branch>` triggers. A tag with the branch's name (`refs/tags/main`) is a different ref:
    /// comparing short names would deploy on it (Argo CD's pitfall). Short refs are ambiguous, hence ignored.
    func decide(ref: String, provider: WebhookProvider, delivery: String?) -> WebhookDecision {
        if ref == "refs/heads/" + branch { return queued(provider, delivery, reason: "push to \(ref)") }
        if ref.hasPrefix("refs/tags/") { return ignored("\(ref) is a tag; following refs/heads/\(branch)") }
        if ref.hasPrefix("refs/heads/") { return ignored("\(ref) is not refs/heads/\(branch)") }
        return ignored("ref '\(ref)' is not fully qualified (refs/heads/…)")
    }

    private func queued(_ provider: WebhookProvider, _ delivery: String?, reason: String) -> WebhookDecision {
        WebhookDecision(
            result: .queued, status: 202, reason: reason,
            trigger: SyncTrigger(.webhook, provider: provider.rawValue, delivery: delivery))
    }

    private func ignored(_ reason: String) -> WebhookDecision {
        WebhookDecision(result: .ignored, status: 202, reason: reason)
    }

    /// nil when authentic (or no secret is configured), else why not. Never says what was expected.
    func authenticate(provider: WebhookProvider, _ request: WebhookRequest) -> String? {
        guard let secret else { return nil }
        switch provider {
        case .gitlab:
            // GitLab sends the secret itself; compare digests so neither content nor length leaks through timing.
            guard let token = request.header("x-gitlab-token") else { return "missing X-Gitlab-Token" }
            return ConstantTime.secretEquals(Array(token.utf8), secret.bytes) ? nil : "X-Gitlab-Token does not match"
        case .github:
            return verifyHMAC(request, header: "x-hub-signature-256", display: "X-Hub-Signature-256", prefixRequired: true)
        case .gitea:
            let header = request.header("x-gitea-signature") != nil ? "x-gitea-signature" : "x-gogs-signature"
            return verifyHMAC(request, header: header, display: "X-Gitea-Signature", prefixRequired: false)
        case .generic:
            return verifyHMAC(request, header: "x-signature", display: "X-Signature", prefixRequired: true)
        }
    }

    private func verifyHMAC(_ request: WebhookRequest, header: String, display: String, prefixRequired: Bool) -> String? {
        guard var value = request.header(header)?.trimmingCharacters(in: .whitespaces) else { return "missing \(display)" }
        if value.hasPrefix("sha256=") {
            value.removeFirst("sha256=".count)
        } else if prefixRequired {
            return "\(display) must be sha256=<hex>"
        }
        guard let given = decodeHex(value), given.count == 32 else { return "\(display) is not a SHA-256 hex digest" }
        let expected = HMAC.sha256(key: secret!.bytes, message: request.body)
        return ConstantTime.equals(given, expected) ? nil : "\(display) does not match the body"
    }

    func deliveryID(provider: WebhookProvider, _ request: WebhookRequest) -> String? {
        let names: [String]
        switch provider {
        case .github: names = ["x-github-delivery"]
        case .gitlab: names = ["x-gitlab-event-uuid", "x-gitlab-webhook-uuid"]
        case .gitea: names = ["x-gitea-delivery", "x-gogs-delivery"]
        case .generic: names = ["x-delivery", "x-request-id"]
        }
        // Bounded and printable: it goes into the ledger and a git note.
        guard let raw = names.lazy.compactMap({ request.header($0) }).first else { return nil }
        let clean = String(raw.unicodeScalars.filter { $0.isASCII && $0.value > 0x20 && $0.value < 0x7f }.prefix(64).map(Character.init))
        return clean.isEmpty ? nil : clean
    }
}
