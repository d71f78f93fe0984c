import NIOCore

/// Knobs of the data plane. Defaults follow nginx's where it has one.
public struct DataPlaneConfiguration: Sendable {
    /// Time to establish an upstream TCP connection before trying another endpoint (then 502).
    public var connectTimeout: TimeAmount = .seconds(5)
    /// Time to wait for upstream response bytes (the head, then between body reads) before 504.
    public var readTimeout: TimeAmount = .seconds(60)
    /// How long a client keep-alive connection may sit idle.
    public var idleTimeout: TimeAmount = .seconds(75)
    /// How long an idle upstream connection stays pooled.
    public var upstreamIdleTimeout: TimeAmount = .seconds(60)
    /// Request line (method, target, version) limit: 414 beyond.
    public var maxRequestLineBytes = 8 * 1024
    /// Total size of the request headers: 431 beyond.
    public var maxHeaderBytes = 32 * 1024
    /// Number of request header fields: 431 beyond.
    public var maxHeaderCount = 100
    /// Idle upstream connections kept per endpoint and event loop.
    public var maxIdleConnectionsPerEndpoint = 128
    /// Open upstream connections (idle, busy or tunnelling) per endpoint and event loop; a request
    /// that finds the limit reached waits up to the connect timeout for one to come free (then 503).
    /// 0 means no limit.
    public var maxConnectionsPerEndpoint = 1024
    /// The certificate for TLS clients whose server name matches no TLS host of the live revision
    /// (and for clients sending no SNI when the revision has no TLS section without hosts).
    public var defaultCertificate: TLSCertificatePair?
    /// Access log: one line per request, `text`, `json` or `off`.
    public var accessLog: AccessLogFormat = .text

    public init() {}
}

public enum AccessLogFormat: String, Sendable, CaseIterable {
    case text, json, off
}
