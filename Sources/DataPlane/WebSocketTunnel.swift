import NIOCore
import NIOHTTP1
import NIOPosix

/// Protocol upgrades (WebSocket and any other `Upgrade`) pass through the proxy: the request goes to
/// the backend with its `Upgrade` and `Connection: upgrade` headers on a fresh connection; when the
/// backend answers 101, the 101 goes to the client and both connections drop their HTTP handlers and
/// become one byte tunnel (`GlueHandler`). Any other answer is an ordinary response, after which both
/// connections close (the client's request decoder parses nothing after an upgrade request).
enum UpgradeTunnel {
    /// Turns the downstream connection (whose `ProxyHandler` is `downstream`) and `upstream` into a tunnel.
    ///
    /// Runs on their common event loop, from the upstream 101 response's end. The 101 head was
    /// already written downstream. Both request/response decoders are removed last, after the glue is
    /// in place: each forwards the bytes it holds beyond the HTTP message (`.forwardBytes`), so
    /// nothing either side sent right after the upgrade is lost.
    static func splice(
        downstream context: ChannelHandlerContext, upstream: UpstreamConnection, loop: LoopState, configuration: DataPlaneConfiguration,
        countsConnection: Bool
    ) {
        let (down, up) = GlueHandler.matchedPair(idleTimeout: configuration.idleTimeout)
        if countsConnection {
            down.onInactive = { loop.metrics.activeConnections -= 1 }
        }
        context.flush()
        do {
            let upstreamPipeline = upstream.channel.pipeline.syncOperations
            try upstreamPipeline.addHandler(up)
            upstream.handler.delegate = nil
            upstream.handler.connection = nil
            upstreamPipeline.removeHandler(upstream.handler, promise: nil)
            try remove(NIOHTTPRequestHeadersValidator.self, from: upstreamPipeline)
            try remove(HTTPRequestEncoder.self, from: upstreamPipeline)
            // The decoders hand over their leftover bytes on the next tick, without a read-complete
            // event: flush them out on the other side once they are through.
            let downstreamChannel = context.channel
            let upstreamChannel = upstream.channel
            try remove(ByteToMessageHandler<HTTPResponseDecoder>.self, from: upstreamPipeline) {
                downstreamChannel.flush()
            }

            let downstreamPipeline = context.pipeline.syncOperations
            try downstreamPipeline.addHandler(down)
            downstreamPipeline.removeHandler(context: context, promise: nil)
            try remove(NIOHTTPResponseHeadersValidator.self, from: downstreamPipeline)
            try remove(HTTPServerProtocolErrorHandler.self, from: downstreamPipeline)
            try remove(HTTPServerPipelineHandler.self, from: downstreamPipeline)
            try remove(HTTPResponseEncoder.self, from: downstreamPipeline)
            try remove(ByteToMessageHandler<HTTPRequestDecoder>.self, from: downstreamPipeline) {
                upstreamChannel.flush()
            }
        } catch {
            upstream.channel.close(promise: nil)
            context.channel.close(promise: nil)
            return
        }
        // Reading may have been paused for backpressure; from now on the glue decides.
        for channel in [context.channel, upstream.channel] {
            channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
            channel.read()
        }
        if !upstream.channel.isActive { context.channel.close(promise: nil) }
    }

    /// Removes the handler of `type` when the pipeline has one.
    private static func remove<Handler: RemovableChannelHandler>(
        _ type: Handler.Type, from pipeline: ChannelPipeline.SynchronousOperations, then: (@Sendable () -> Void)? = nil
    ) throws {
        guard let handler = try? pipeline.handler(type: type) else { return }
        guard let then else {
            pipeline.removeHandler(handler, promise: nil)
            return
        }
        let removed = pipeline.eventLoop.makePromise(of: Void.self)
        removed.futureResult.whenComplete { _ in then() }
        pipeline.removeHandler(handler, promise: removed)
    }
}

extension UpstreamPool {
    /// A new upstream connection for an upgrade request, never pooled: its response decoder
    /// forwards the bytes after a 101 instead of dropping them.
    func connectForUpgrade(_ key: EndpointKey) -> EventLoopFuture<UpstreamConnection> {
        let pool = NIOLoopBound(self, eventLoop: eventLoop)
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(leftOverBytesStrategy: .forwardBytes)
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler())
                }
            }
            .connect(host: key.host, port: key.port)
            .flatMapThrowing { channel in
                let handler = try channel.pipeline.syncOperations.handler(type: UpstreamHandler.self)
                return UpstreamConnection(channel: channel, handler: handler, key: key, pool: pool.value)
            }
    }
}

/// Removed from an upstream connection that becomes a tunnel.
extension UpstreamHandler: RemovableChannelHandler {}
