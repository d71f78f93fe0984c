import NIOCore
import NIOHTTP1
import NIOPosix
import RouteModel

/// Where an upstream connection goes.
public struct EndpointKey: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init(_ endpoint: Endpoint) {
        self.init(host: endpoint.address, port: endpoint.port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Idle upstream HTTP/1.1 connections of one event loop, per endpoint.
///
/// Each event loop has its own pools (like nginx workers), so a request never hops threads and
/// nothing here needs a lock: every method runs on `eventLoop`.
final class UpstreamPool {
    let eventLoop: EventLoop
    let configuration: DataPlaneConfiguration
    private var idle: [EndpointKey: [UpstreamConnection]] = [:]

    init(eventLoop: EventLoop, configuration: DataPlaneConfiguration) {
        self.eventLoop = eventLoop
        self.configuration = configuration
    }

    /// A pooled connection that is still open, or nil.
    func takeIdle(_ key: EndpointKey) -> UpstreamConnection? {
        eventLoop.preconditionInEventLoop()
        // Mutated in place: copying the list out of the dictionary would copy it on every request.
        while let connection = idle[key]?.popLast() {
            connection.cancelIdleTimer()
            if connection.channel.isActive { return connection }
        }
        return nil
    }

    /// Opens a new connection to `key`.
    func connect(_ key: EndpointKey) -> EventLoopFuture<UpstreamConnection> {
        let pool = NIOLoopBound(self, eventLoop: eventLoop)
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler())
                }
            }
            .connect(host: key.host, port: key.port)
            .flatMapThrowing { channel in
                let handler = try channel.pipeline.syncOperations.handler(type: UpstreamHandler.self)
                return UpstreamConnection(channel: channel, handler: handler, key: key, pool: pool.value)
            }
    }

    /// Returns a connection that finished its exchange cleanly.
    func release(_ connection: UpstreamConnection) {
        eventLoop.preconditionInEventLoop()
        guard connection.channel.isActive else { return }
        guard idle[connection.key, default: []].count < configuration.maxIdleConnectionsPerEndpoint else {
            connection.channel.close(promise: nil)
            return
        }
        connection.handler.delegate = nil
        connection.startIdleTimer(configuration.upstreamIdleTimeout)
        idle[connection.key, default: []].append(connection)
    }

    func forget(_ connection: UpstreamConnection) {
        idle[connection.key]?.removeAll { $0 === connection }
    }

    /// Closes idle connections to endpoints no longer served (after a swap).
    func drain(keeping live: Set<EndpointKey>) {
        for (key, list) in idle where !live.contains(key) {
            for connection in list { connection.channel.close(promise: nil) }
            idle[key] = nil
        }
    }

    func closeAll() {
        for list in idle.values { for connection in list { connection.channel.close(promise: nil) } }
        idle = [:]
    }

    var idleCount: Int { idle.values.reduce(0) { $0 + $1.count } }
}

/// One upstream connection: its channel and the handler that reports its responses.
final class UpstreamConnection {
    let channel: Channel
    let handler: UpstreamHandler
    let key: EndpointKey
    unowned let pool: UpstreamPool
    private var idleTimer: Scheduled<Void>?
    /// Requests sent on this connection, to know whether a failure may be a stale keep-alive.
    var uses = 0
    /// The channel's `autoRead`, mirrored so unchanged values cost nothing.
    var autoRead = true

    init(channel: Channel, handler: UpstreamHandler, key: EndpointKey, pool: UpstreamPool) {
        self.channel = channel
        self.handler = handler
        self.key = key
        self.pool = pool
        handler.connection = self
    }

    func startIdleTimer(_ timeout: TimeAmount) {
        let channel = self.channel
        idleTimer = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
    }

    func cancelIdleTimer() {
        idleTimer?.cancel()
        idleTimer = nil
    }
}

/// Receives an upstream connection's response parts and hands them to the request using it.
final class UpstreamHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    /// The downstream exchange currently using this connection; nil while pooled. Strong, and
    /// cleared explicitly (release, close): weak references would make every retain of these
    /// objects take the slow side-table path on the hot path.
    var delegate: ProxyHandler?
    var connection: UpstreamConnection?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if let delegate {
            delegate.upstreamRead(part)
        }
        // A pooled connection receiving bytes is broken (the server spoke out of turn): drop it.
        else {
            context.close(promise: nil)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        delegate?.upstreamReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        delegate?.upstreamWritabilityChanged(context.channel.isWritable)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let connection { connection.pool.forget(connection) }
        let delegate = self.delegate
        self.delegate = nil
        self.connection = nil
        delegate?.upstreamClosed(error: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        let delegate = self.delegate
        self.delegate = nil
        delegate?.upstreamClosed(error: error)
        context.close(promise: nil)
    }
}
