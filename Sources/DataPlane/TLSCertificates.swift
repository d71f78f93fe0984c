import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import RouteModel

/// The PEM of one `kubernetes.io/tls` Secret: `tls.crt` (leaf first, then intermediates) and `tls.key`.
public struct TLSCertificatePair: Sendable, Hashable {
    public var chainPEM: [UInt8]
    public var keyPEM: [UInt8]

    public init(chainPEM: [UInt8], keyPEM: [UInt8]) {
        self.chainPEM = chainPEM
        self.keyPEM = keyPEM
    }
}

/// One parsed certificate chain and key, ready to be handed to a handshake.
///
/// Parsing and checking (PEM → X.509 and key, key matches leaf) happen once per distinct Secret
/// content, at install time; a handshake only takes references to the parsed objects.
final class TLSServingCertificate: Sendable {
    let secret: String
    let pair: TLSCertificatePair
    let chain: [NIOSSLCertificate]
    let override: NIOSSLContextConfigurationOverride

    init(secret: String, pair: TLSCertificatePair) throws {
        let chain = try NIOSSLCertificate.fromPEMBytes(pair.chainPEM)
        guard !chain.isEmpty else { throw TLSCertificateError.noCertificate }
        let key = try NIOSSLPrivateKey(bytes: pair.keyPEM, format: .pem)
        // Building a context with the pair checks that the key belongs to the leaf certificate
        // (BoringSSL refuses a mismatched pair), so a bad Secret is caught here, not at handshake time.
        _ = try NIOSSLContext(
            configuration: TLSConfiguration.makeServerConfiguration(
                certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key)))
        var override = NIOSSLContextConfigurationOverride()
        override.certificateChain = chain.map { .certificate($0) }
        override.privateKey = .privateKey(key)
        self.secret = secret
        self.pair = pair
        self.chain = chain
        self.override = override
    }
}

enum TLSCertificateError: Error, CustomStringConvertible {
    case noCertificate
    /// No binding matches the client's server name, and there is no `*` binding.
    case noMatchingCertificate(serverName: String?)

    var description: String {
        switch self {
        case .noCertificate: return "tls.crt holds no PEM certificate"
        case .noMatchingCertificate(let name): return "no certificate for server name \(name ?? "(none sent)")"
        }
    }
}

/// The certificates of one revision by SNI host: exact host, then one-label wildcard
/// (`*.example.com` serves `a.example.com`, not `example.com` nor `a.b.example.com`), then the `*`
/// binding (a TLS section without hosts; also clients sending no SNI).
final class TLSCertificateIndex: Sendable {
    let exact: [String: TLSServingCertificate]
    /// Keyed by the suffix after `*`, e.g. `.example.com`.
    let wildcard: [String: TLSServingCertificate]
    let any: TLSServingCertificate?
    /// Server names already reported as unmatched (one log line per name and revision).
    private let reported = NIOLockedValueBox<Set<String>>([])

    static let empty = TLSCertificateIndex(exact: [:], wildcard: [:], any: nil)

    init(exact: [String: TLSServingCertificate], wildcard: [String: TLSServingCertificate], any: TLSServingCertificate?) {
        self.exact = exact
        self.wildcard = wildcard
        self.any = any
    }

    var isEmpty: Bool { exact.isEmpty && wildcard.isEmpty && any == nil }

    func certificate(forServerName serverName: String?) -> TLSServingCertificate? {
        guard let serverName, !serverName.isEmpty else { return any }
        let name = Self.normalized(serverName)
        if let c = exact[name] { return c }
        if let dot = name.firstIndex(of: "."), dot != name.startIndex, let c = wildcard[String(name[dot...])] { return c }
        return any
    }

    static func normalized(_ name: String) -> String {
        var n = Substring(name)
        while n.hasSuffix(".") { n = n.dropLast() }
        return n.lowercased()
    }

    /// Whether `name` is reported for the first time (bounded, so a scan cannot grow it without limit).
    func firstReport(of name: String) -> Bool {
        reported.withLockedValue { seen in
            guard seen.count < 1024 else { return false }
            return seen.insert(name).inserted
        }
    }
}

/// The certificates of the snapshots the store holds (current and previous), so the certificate a
/// handshake gets always belongs to the revision being served, also after a rollback.
///
/// Parsed certificates are cached by Secret content: an install that does not change a Secret reuses
/// its parsed chain and key.
final class TLSCertificateStore: Sendable {
    private struct Entry {
        let snapshot: RoutingSnapshot
        let index: TLSCertificateIndex
    }

    private let entries = NIOLockedValueBox<[Entry]>([])
    /// Parsed certificates by Secret reference, from the last install.
    private let cache = NIOLockedValueBox<[String: TLSServingCertificate]>([:])

    /// Builds the index of `bindings`; problems come back as warnings and leave the host uncovered.
    func prepare(_ bindings: [TLSBinding], certificates: [String: TLSCertificatePair]) -> (TLSCertificateIndex, [String]) {
        let previous = cache.withLockedValue { $0 }
        var parsed: [String: TLSServingCertificate] = [:]
        var failed: [String: String] = [:]
        var warnings: [String] = []
        func serving(_ secret: String) -> TLSServingCertificate? {
            if let c = parsed[secret] { return c }
            if failed[secret] != nil { return nil }
            guard let pair = certificates[secret] else {
                failed[secret] = "missing"
                warnings.append("TLS: Secret \(secret) was not provided; its hosts get no certificate of their own")
                return nil
            }
            if let cached = previous[secret], cached.pair == pair {
                parsed[secret] = cached
                return cached
            }
            do {
                let c = try TLSServingCertificate(secret: secret, pair: pair)
                parsed[secret] = c
                return c
            } catch {
                failed[secret] = "\(error)"
                warnings.append(
                    "TLS: Secret \(secret) holds no usable certificate and key (\(error)); its hosts get no certificate of their own")
                return nil
            }
        }
        var exact: [String: TLSServingCertificate] = [:]
        var wildcard: [String: TLSServingCertificate] = [:]
        var any: TLSServingCertificate?
        for binding in bindings {
            let host = TLSCertificateIndex.normalized(binding.host)
            // The first binding of a host wins (the compiler already orders them).
            if host == "*" {
                if any == nil, let c = serving(binding.secret) { any = c }
            } else if host.hasPrefix("*.") {
                let suffix = String(host.dropFirst())
                if wildcard[suffix] == nil, let c = serving(binding.secret) { wildcard[suffix] = c }
            } else if exact[host] == nil, let c = serving(binding.secret) {
                exact[host] = c
            }
        }
        cache.withLockedValue { $0 = parsed }
        return (TLSCertificateIndex(exact: exact, wildcard: wildcard, any: any), warnings)
    }

    /// Registers the index of a snapshot about to be installed.
    func register(_ index: TLSCertificateIndex, for snapshot: RoutingSnapshot) {
        entries.withLockedValue { $0.append(Entry(snapshot: snapshot, index: index)) }
    }

    /// Forgets the indexes of snapshots no longer held by the store.
    func prune(keeping live: [RoutingSnapshot?]) {
        entries.withLockedValue { list in
            list.removeAll { entry in !live.contains { $0 === entry.snapshot } }
        }
    }

    func index(for snapshot: RoutingSnapshot?) -> TLSCertificateIndex {
        guard let snapshot else { return .empty }
        return entries.withLockedValue { list in
            // The newest entry first: it is the current snapshot in the common case.
            for entry in list.reversed() where entry.snapshot === snapshot { return entry.index }
            return .empty
        }
    }
}

extension DataPlane {
    /// The server TLS configuration: ALPN `h2` then `http/1.1`, TLS 1.2 and later, and the
    /// certificate chosen per handshake from the live revision by the client's SNI.
    ///
    /// A client whose server name matches no binding (and no `*` binding exists) gets the configured
    /// default certificate (`--default-certificate`); without one it fails the handshake, and the first
    /// such name per revision is logged. There is no built-in self-signed default: no dependency of
    /// Gitway can generate one without an external process.
    func serverTLSConfiguration() throws -> TLSConfiguration {
        let fallback = try configuration.defaultCertificate.map { try TLSServingCertificate(secret: "--default-certificate", pair: $0) }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["h2", "http/1.1"]
        let store = self.store
        let tls = self.tls
        let logger = self.logger
        configuration.sslContextCallback = { values, promise in
            let index = tls.index(for: store.current)
            if let certificate = index.certificate(forServerName: values.serverHostname) {
                promise.succeed(certificate.override)
                return
            }
            if let fallback {
                promise.succeed(fallback.override)
                return
            }
            let name = values.serverHostname ?? ""
            if index.firstReport(of: name) {
                logger.warning(
                    "TLS handshake refused: no certificate for this server name (no matching TLS host and no TLS section without hosts)",
                    metadata: ["sni": "\(values.serverHostname ?? "(none)")"])
            }
            promise.fail(TLSCertificateError.noMatchingCertificate(serverName: values.serverHostname))
        }
        return configuration
    }
}
