import Applier
import DataPlane
import Pipeline

/// Everything `gitway serve` is told.
public struct ServeConfiguration: Sendable {
    public var repository: RepositoryOptions
    public var listenHost = "127.0.0.1"
    public var listenPort = 8080
    /// The HTTPS listener (`--listen-tls`), off when nil.
    public var listenTLS: (host: String, port: Int)?
    public var adminHost = "127.0.0.1"
    public var adminPort = 9180
    /// Seconds between polls of the branch.
    public var pollSeconds: Double = 30
    /// Each poll waits `pollSeconds` ± this fraction, so replicas do not fetch in lockstep.
    public var pollJitter: Double = 0.1
    /// Two syncs start at least this far apart: requests arriving in between (a burst of webhooks) merge into one.
    public var minimumSyncSpacingSeconds: Double = 0.25
    /// Webhook deliveries must be signed with this secret (`--webhook-secret-file`); unsigned ones are accepted when nil.
    public var webhookSecret: WebhookSecret?
    /// Webhook bodies over this are answered 413.
    public var webhookMaxBodyBytes = WebhookReceiver.defaultMaxBodyBytes
    /// Push `refs/notes/gitway` to the remote after each recorded attempt (`--push-notes`).
    public var pushNotes = false
    /// Event-loop threads of the data plane (default: one per core).
    public var threads: Int
    public var dataPlane = DataPlaneConfiguration()
    /// How long in-flight requests may take to finish on shutdown.
    public var shutdownGraceSeconds: Double = 10
    /// Apply a plan that prunes every live object (`--allow-empty`); refused otherwise.
    public var allowEmpty = false
    /// Checks run after each swap; a failure rolls the cluster and the gateway back and marks the commit bad.
    public var verificationChecks: [any VerificationCheck] = []
    /// Watch the changed routes' 5xx share for a window after each swap (`--verify-window`); off when nil.
    public var errorRateWatch: ErrorRateWatchSettings?
    /// Send the revision's route tests that expect a status through the gateway after the swap (`--verify-probes`).
    public var verifyProbes = false

    /// Whether verification requires every forwarded route's service to have endpoints (`--verify-endpoints`).
    public var verifyEndpoints: Bool {
        get { verificationChecks.contains { $0 is EndpointsCheck } }
        set {
            verificationChecks.removeAll { $0 is EndpointsCheck }
            if newValue { verificationChecks.append(EndpointsCheck()) }
        }
    }

    public init(repository: RepositoryOptions, threads: Int) {
        self.repository = repository
        self.threads = threads
    }
}

/// `host:port`, `[v6]:port` or `:port`.
public func parseListenAddress(_ text: String) -> (host: String, port: Int)? {
    var s = Substring(text)
    var host = "0.0.0.0"
    if s.hasPrefix("[") {
        guard let end = s.firstIndex(of: "]") else { return nil }
        host = String(s[s.index(after: s.startIndex)..<end])
        s = s[s.index(after: end)...]
        guard s.hasPrefix(":") else { return nil }
        s = s.dropFirst()
    } else if let colon = s.lastIndex(of: ":") {
        if colon != s.startIndex { host = String(s[..<colon]) }
        s = s[s.index(after: colon)...]
    } else {
        return nil
    }
    guard let port = Int(s), (0...65535).contains(port) else { return nil }
    return (host, port)
}
