import NIOCore
import NIOHTTP1
import NIOHTTP2

extension DataPlane {
    /// The HTTP/1.x proxy of one downstream connection (plain, or TLS after ALPN): one handler on bytes.
    func configureHTTP1(_ channel: Channel, scheme: String) throws {
        try channel.pipeline.syncOperations.addHandler(
            HTTP1ProxyHandler(store: store, loop: state(for: channel.eventLoop), configuration: configuration, scheme: scheme))
    }

    /// The HTTP/2 pipeline of one downstream connection: every stream gets the HTTP/2-to-HTTP/1 codec
    /// and its own `ProxyHandler`, so streams are proxied like HTTP/1.1 requests (upstreams stay HTTP/1.1).
    func configureHTTP2(_ channel: Channel, scheme: String) throws {
        let plane = self
        let pipeline = channel.pipeline.syncOperations
        // Idleness of the whole connection (bytes either way); `HTTP2ConnectionHandler` acts on it.
        try pipeline.addHandler(IdleStateHandler(allTimeout: configuration.idleTimeout))
        _ = try pipeline.configureHTTP2Pipeline(
            mode: .server, connectionConfiguration: NIOHTTP2Handler.ConnectionConfiguration(),
            streamConfiguration: NIOHTTP2Handler.StreamConfiguration()
        ) { stream in
            stream.eventLoop.makeCompletedFuture {
                let streamPipeline = stream.pipeline.syncOperations
                try streamPipeline.addHandler(HTTP2FramePayloadToHTTP1ServerCodec())
                try streamPipeline.addHandler(
                    ProxyHandler(
                        store: plane.store, loop: plane.state(for: stream.eventLoop), configuration: plane.configuration,
                        scheme: scheme))
            }
        }
        try pipeline.addHandler(HTTP2ConnectionHandler(loop: state(for: channel.eventLoop)))
    }
}

/// Behind the HTTP/2 handler of a connection: counts the connection, and closes it when it has been
/// idle (no bytes either way) for the idle timeout with no stream open.
final class HTTP2ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    private let loop: LoopState
    private var openStreams = 0
    private var counted = false

    init(loop: LoopState) { self.loop = loop }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { count() }
    }

    func channelActive(context: ChannelHandlerContext) {
        count()
        context.fireChannelActive()
    }

    private func count() {
        guard !counted else { return }
        counted = true
        loop.metrics.activeConnections += 1
        loop.metrics.acceptedConnections += 1
    }

    func channelInactive(context: ChannelHandlerContext) {
        if counted {
            counted = false
            loop.metrics.activeConnections -= 1
        }
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case is NIOHTTP2StreamCreatedEvent:
            openStreams += 1
        case is StreamClosedEvent:
            openStreams = max(0, openStreams - 1)
        case is IdleStateHandler.IdleStateEvent:
            if openStreams == 0 {
                context.close(promise: nil)
                return
            }
        default:
            break
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // Connection errors: NIOHTTP2Handler has already sent GOAWAY where the protocol asks for it.
        context.close(promise: nil)
    }
}

/// The first handler of a plain listener's connection: HTTP/2 with prior knowledge (h2c) when the
/// first bytes are the HTTP/2 connection preface, HTTP/1.1 otherwise. It looks only as far as the
/// bytes agree with the preface (one byte for `GET`), configures the pipeline, hands over what it
/// read and leaves; the HTTP/1.1 request path is the same as without it.
final class HTTPVersionDetector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    private let plane: DataPlane
    private let scheme: String
    private var buffered: ByteBuffer?
    /// Closes a connection that sends nothing for the idle timeout.
    private var idleTimer: Scheduled<Void>?

    init(plane: DataPlane, scheme: String) {
        self.plane = plane
        self.scheme = scheme
    }

    func handlerAdded(context: ChannelHandlerContext) {
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: plane.configuration.idleTimeout) {
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if var previous = buffered {
            previous.writeBuffer(&buffer)
            buffer = previous
            buffered = nil
        }
        let checked = min(buffer.readableBytes, Self.preface.count)
        let agrees = buffer.withUnsafeReadableBytes { bytes in
            for i in 0..<checked where bytes[i] != Self.preface[i] { return false }
            return true
        }
        if agrees && checked < Self.preface.count {
            buffered = buffer
            return
        }
        idleTimer?.cancel()
        idleTimer = nil
        do {
            if agrees {
                try plane.configureHTTP2(context.channel, scheme: scheme)
            } else {
                try plane.configureHTTP1(context.channel, scheme: scheme)
            }
        } catch {
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(wrapInboundOut(buffer))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
