import NIOCore
import NIOHTTP2
import NIOPosix
import NIOSSL

extension DataPlane {
    /// Binds an HTTPS listener; returns the bound address (port 0 picks a free port).
    ///
    /// TLS 1.2+ with the certificate the live revision binds to the client's SNI (see
    /// `serverTLSConfiguration()`); ALPN `h2` gives HTTP/2, `http/1.1` or no ALPN gives HTTP/1.1.
    /// Requests are proxied by the same `ProxyHandler` as on the plain listener, with
    /// `X-Forwarded-Proto: https`.
    public func bindTLS(host: String, port: Int) async throws -> SocketAddress {
        // Built once, off the event loops. It holds no certificate: each handshake gets its own.
        let sslContext = try NIOSSLContext(configuration: try serverTLSConfiguration())
        let configuration = self.configuration
        let plane = self
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(NIOSSLServerHandler(context: sslContext))
                    try pipeline.addHandler(TLSHandshakeGuard(timeout: configuration.idleTimeout))
                }.flatMap {
                    channel.configureHTTP2SecureUpgrade(
                        h2ChannelConfigurator: { channel in
                            channel.eventLoop.makeCompletedFuture {
                                try TLSHandshakeGuard.remove(from: channel)
                                try plane.configureHTTP2(channel, scheme: "https")
                            }
                        },
                        http1ChannelConfigurator: { channel in
                            channel.eventLoop.makeCompletedFuture {
                                try TLSHandshakeGuard.remove(from: channel)
                                try plane.configureHTTP1(channel, scheme: "https")
                            }
                        })
                }
            }
            .bind(host: host, port: port)
            .get()
        registerListener(channel)
        return channel.localAddress!
    }
}

/// Until ALPN has chosen the protocol: closes a connection that does not get there within the idle
/// timeout, or whose handshake fails (no certificate for its SNI, bad client hello). After that the
/// protocol's own idle handling takes over (`ProxyHandler` for HTTP/1.1, `HTTP2ConnectionHandler`).
final class TLSHandshakeGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let timeout: TimeAmount
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount) { self.timeout = timeout }

    func handlerAdded(context: ChannelHandlerContext) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    static func remove(from channel: Channel) throws {
        let pipeline = channel.pipeline.syncOperations
        pipeline.removeHandler(try pipeline.handler(type: TLSHandshakeGuard.self), promise: nil)
    }
}
