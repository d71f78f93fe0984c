import NIOCore
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

/// The upstream connection limit of an endpoint was reached and no connection came free in time.
struct UpstreamLimitReached: Error {}

/// Upstream HTTP/1.1 connections of one event loop, per endpoint: the idle ones, how many are open,
/// and requests waiting for one when the endpoint is at its limit.
///
/// Each event loop has its own pools (like nginx workers), so a request never hops threads and
/// nothing here needs a lock: every method runs on `eventLoop`.
final class UpstreamPool {
    let eventLoop: EventLoop
    let configuration: DataPlaneConfiguration
    private var endpoints: [EndpointKey: EndpointConnections] = [:]

    /// One endpoint's connections.
    struct EndpointConnections {
        var idle: [UpstreamConnection] = []
        /// Open connections: idle, in use, tunnelling, or being established.
        var open = 0
        /// Requests waiting for a connection while `open` is at the limit, oldest first.
        var waiters: [Waiter] = []
    }

    final class Waiter {
        let promise: EventLoopPromise<UpstreamConnection>
        var timer: Scheduled<Void>?
        init(promise: EventLoopPromise<UpstreamConnection>) { self.promise = promise }
    }

    init(eventLoop: EventLoop, configuration: DataPlaneConfiguration) {
        self.eventLoop = eventLoop
        self.configuration = configuration
        // Idle connections are closed by a sweep rather than by a timer each: scheduling and
        // cancelling a timer per request costs more than the request's own routing.
        let timeout = configuration.upstreamIdleTimeout
        let period = TimeAmount.nanoseconds(max(timeout.nanoseconds / 4, 10_000_000))
        let pool = NIOLoopBound(self, eventLoop: eventLoop)
        sweeper = eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { _ in
            pool.value.closeIdle(olderThan: .now() - timeout)
        }
    }

    private var sweeper: RepeatedTask?

    /// Closes pooled connections idle since before `cutoff` (oldest are at the front of each list).
    func closeIdle(olderThan cutoff: NIODeadline) {
        for key in Array(endpoints.keys) {
            guard let idle = endpoints[key]?.idle, let first = idle.first, first.idleSince < cutoff else { continue }
            let stale = idle.prefix { $0.idleSince < cutoff }
            endpoints[key]!.idle.removeFirst(stale.count)
            for connection in stale { connection.channel.close(promise: nil) }
        }
    }

    /// A pooled connection that is still open, or nil.
    func takeIdle(_ key: EndpointKey) -> UpstreamConnection? {
        eventLoop.preconditionInEventLoop()
        // Mutated in place: copying the list out of the dictionary would copy it on every request.
        while let connection = endpoints[key]?.idle.popLast() {
            if connection.handler.isOpen { return connection }
        }
        return nil
    }

    /// A new connection to `key`, or, at the endpoint's connection limit, the next one released
    /// (failing with `UpstreamLimitReached` after the connect timeout).
    func connect(_ key: EndpointKey) -> EventLoopFuture<UpstreamConnection> {
        eventLoop.preconditionInEventLoop()
        let limit = configuration.maxConnectionsPerEndpoint
        if limit > 0, endpoints[key, default: EndpointConnections()].open >= limit {
            let waiter = Waiter(promise: eventLoop.makePromise())
            endpoints[key, default: EndpointConnections()].waiters.append(waiter)
            let pool = NIOLoopBound(self, eventLoop: eventLoop)
            let bound = NIOLoopBound(waiter, eventLoop: eventLoop)
            waiter.timer = eventLoop.scheduleTask(in: configuration.connectTimeout) {
                let waiter = bound.value
                pool.value.endpoints[key]?.waiters.removeAll { $0 === waiter }
                waiter.promise.fail(UpstreamLimitReached())
            }
            return waiter.promise.futureResult
        }
        return open(key)
    }

    private func open(_ key: EndpointKey) -> EventLoopFuture<UpstreamConnection> {
        endpoints[key, default: EndpointConnections()].open += 1
        let pool = NIOLoopBound(self, eventLoop: eventLoop)
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler())
                }
            }
            .connect(host: key.host, port: key.port)
            .flatMapThrowing { channel in
                let handler = try channel.pipeline.syncOperations.handler(type: UpstreamHandler.self)
                return UpstreamConnection(channel: channel, handler: handler, key: key, pool: pool.value)
            }
            .flatMapErrorThrowing { error in
                pool.value.closed(key)
                throw error
            }
    }

    /// Opens one connection to each endpoint in `keys` that has none yet and pools it, so a revision's
    /// new backends are ready before it goes live. Failures are left to the requests that follow.
    func prewarm(_ keys: [EndpointKey]) -> EventLoopFuture<Void> {
        eventLoop.preconditionInEventLoop()
        let pool = NIOLoopBound(self, eventLoop: eventLoop)
        let opening = keys.filter { endpoints[$0]?.open ?? 0 == 0 }.map { key in
            open(key).map { connection in pool.value.release(connection) }
        }
        return EventLoopFuture.whenAllComplete(opening, on: eventLoop).map { _ in () }
    }

    /// Returns a connection that finished its exchange cleanly: to a waiting request, or to the idle list.
    func release(_ connection: UpstreamConnection) {
        eventLoop.preconditionInEventLoop()
        connection.handler.delegate = nil
        guard connection.handler.isOpen else { return }
        let key = connection.key
        if let waiter = endpoints[key]?.waiters.first {
            endpoints[key]!.waiters.removeFirst()
            waiter.timer?.cancel()
            waiter.promise.assumeIsolated().succeed(connection)
            return
        }
        guard endpoints[key, default: EndpointConnections()].idle.count < configuration.maxIdleConnectionsPerEndpoint else {
            connection.channel.close(promise: nil)
            return
        }
        connection.idleSince = .now()
        endpoints[key, default: EndpointConnections()].idle.append(connection)
    }

    /// A connection to `key` closed (or failed to open): a waiting request gets a new one in its place.
    func closed(_ key: EndpointKey) {
        guard var state = endpoints[key] else { return }
        state.open -= 1
        if let waiter = state.waiters.first {
            state.waiters.removeFirst()
            endpoints[key] = state
            waiter.timer?.cancel()
            let promise = waiter.promise
            open(key).assumeIsolated().whenComplete { promise.assumeIsolated().completeWith($0) }
            return
        }
        endpoints[key] = state.open == 0 && state.idle.isEmpty ? nil : state
    }

    func forget(_ connection: UpstreamConnection) {
        endpoints[connection.key]?.idle.removeAll { $0 === connection }
        closed(connection.key)
    }

    /// Closes idle connections to endpoints no longer served (after a swap).
    func drain(keeping live: Set<EndpointKey>) {
        for (key, state) in endpoints where !live.contains(key) {
            for connection in state.idle { connection.channel.close(promise: nil) }
            endpoints[key]?.idle = []
        }
    }

    func closeAll() {
        sweeper?.cancel()
        sweeper = nil
        for state in endpoints.values { for connection in state.idle { connection.channel.close(promise: nil) } }
        for key in endpoints.keys { endpoints[key]?.idle = [] }
    }

    var idleCount: Int { endpoints.values.reduce(0) { $0 + $1.idle.count } }
    func openCount(_ key: EndpointKey) -> Int { endpoints[key]?.open ?? 0 }
}

/// One upstream connection: its channel and the handler that parses its responses.
final class UpstreamConnection {
    let channel: Channel
    let handler: UpstreamHandler
    let key: EndpointKey
    unowned let pool: UpstreamPool
    /// When it was last returned to the pool.
    var idleSince = NIODeadline.now()
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
        // The connect future completes before `channelActive` reaches the handler.
        handler.isOpen = channel.isActive
    }

    /// Writes through the handler's context (skipping the pipeline's tail).
    @inline(__always)
    func write(_ buffer: ByteBuffer) {
        handler.write(buffer)
    }

    func flush() { handler.flush() }

    func setAutoRead(_ on: Bool) {
        guard on != autoRead else { return }
        autoRead = on
        channel.setOption(ChannelOptions.autoRead, value: on).whenComplete { _ in }
    }
}

/// What an upstream connection reports to the exchange using it.
protocol UpstreamDelegate: AnyObject {
    /// A response head, informational (1xx) ones included; 101 starts a tunnel.
    func upstreamHead(_ head: ResponseHead)
    /// Body bytes (chunked coding kept, unless `removesChunking`), or tunnel bytes after a 101.
    func upstreamBody(_ bytes: ByteBuffer)
    /// The response is complete; `reusable` says whether the connection may serve another request.
    func upstreamEnd(reusable: Bool)
    func upstreamReadComplete()
    func upstreamWritabilityChanged(_ writable: Bool)
    /// The connection closed or failed before the response was complete.
    func upstreamClosed(error: Error?)
}

/// Parses an upstream connection's responses from bytes and hands them to the exchange using it.
///
/// The body is passed on as it arrives, with its framing followed only to find its end: chunked
/// bodies keep their coding (the client gets it unchanged) unless `removesChunking` (HTTP/2 and
/// HTTP/1.0 clients), in which case only the data goes on.
final class UpstreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The exchange currently using this connection; nil while pooled. Strong, and cleared explicitly
    /// (release, close): weak references would make every retain take the slow side-table path.
    var delegate: (any UpstreamDelegate)?
    var connection: UpstreamConnection?
    private var context: ChannelHandlerContext!
    /// The channel's state, mirrored from its events: asking the channel takes a lock-free but
    /// reference-counted trip through its lifecycle manager on every request.
    var isOpen = false
    private(set) var isWritable = true

    private enum Phase {
        /// No request outstanding: bytes now mean a broken connection.
        case idle
        case head
        case body
        case tunnel
    }

    private var phase = Phase.idle
    private var requestWasHEAD = false
    private var removesChunking = false
    private var partial: ByteBuffer?
    private var framing = BodyFraming.none
    private var remaining = 0
    private var scanner = ChunkedScanner()
    private var keepAlive = true
    /// Upper bound on a response head.
    static let maxHeadBytes = 64 * 1024

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        isOpen = context.channel.isActive
    }

    func channelActive(context: ChannelHandlerContext) {
        isOpen = true
        context.fireChannelActive()
    }

    /// A request is on its way: parse the response to it.
    func expectResponse(toHEAD: Bool, removesChunking: Bool) {
        phase = .head
        requestWasHEAD = toHEAD
        self.removesChunking = removesChunking
        partial = nil
    }

    @inline(__always)
    func write(_ buffer: ByteBuffer) {
        context.write(wrapOutboundOut(buffer), promise: nil)
    }

    func flush() { context.flush() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard delegate != nil else {
            // A pooled connection receiving bytes is broken (the server spoke out of turn): drop it.
            context.close(promise: nil)
            return
        }
        var buffer = unwrapInboundIn(data)
        while buffer.readableBytes > 0, let delegate {
            switch phase {
            case .idle:
                context.close(promise: nil)
                return
            case .head:
                if var previous = partial {
                    previous.writeBuffer(&buffer)
                    buffer = previous
                    partial = nil
                }
                guard let length = buffer.withUnsafeReadableBytes({ HTTPBytes.headEnd($0, from: 0) }) else {
                    if buffer.readableBytes > Self.maxHeadBytes {
                        fail(context, "response head too large")
                    } else {
                        partial = buffer
                    }
                    return
                }
                let head: ResponseHead
                do {
                    head = try ResponseHead.parse(buffer, length: length)
                } catch {
                    fail(context, error.reason)
                    return
                }
                buffer.moveReaderIndex(forwardBy: length)
                if head.status == 101 {
                    phase = .tunnel
                    delegate.upstreamHead(head)
                    continue
                }
                if head.status < 200 {
                    delegate.upstreamHead(head)
                    continue
                }
                framing = head.framing(requestWasHEAD: requestWasHEAD)
                keepAlive = head.keepAlive
                delegate.upstreamHead(head)
                switch framing {
                case .none:
                    end()
                case .length(let n):
                    remaining = n
                    phase = .body
                case .chunked:
                    scanner = ChunkedScanner()
                    phase = .body
                case .untilClose:
                    keepAlive = false
                    phase = .body
                }
            case .body:
                switch framing {
                case .length:
                    let n = min(remaining, buffer.readableBytes)
                    remaining -= n
                    let slice = buffer.readSlice(length: n)!
                    delegate.upstreamBody(slice)
                    if remaining == 0 {
                        // Bytes beyond the declared length: the connection cannot be trusted again.
                        if buffer.readableBytes > 0 { keepAlive = false }
                        end()
                        return
                    }
                case .chunked:
                    if !scanChunked(&buffer, delegate) { return }
                case .untilClose, .none:
                    delegate.upstreamBody(buffer)
                    return
                }
            case .tunnel:
                delegate.upstreamBody(buffer)
                return
            }
        }
    }

    /// Passes on the chunked body bytes of `buffer`; false when the connection failed.
    private func scanChunked(_ buffer: inout ByteBuffer, _ delegate: any UpstreamDelegate) -> Bool {
        var dataRanges: [Range<Int>] = []
        let consumed: Int
        do {
            let removing = removesChunking
            consumed = try buffer.withUnsafeReadableBytes { p throws(HeadError) in
                try scanner.scan(p) { range in if removing { dataRanges.append(range) } }
            }
        } catch {
            fail(context, "malformed chunked response: \(error.reason)")
            return false
        }
        if removesChunking {
            for range in dataRanges {
                delegate.upstreamBody(buffer.getSlice(at: buffer.readerIndex + range.lowerBound, length: range.count)!)
            }
            buffer.moveReaderIndex(forwardBy: consumed)
        } else {
            delegate.upstreamBody(buffer.readSlice(length: consumed)!)
        }
        if scanner.isDone {
            if buffer.readableBytes > 0 { keepAlive = false }
            end()
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        }
        return true
    }

    private func end() {
        phase = .idle
        let delegate = self.delegate
        delegate?.upstreamEnd(reusable: keepAlive)
    }

    private func fail(_ context: ChannelHandlerContext, _ reason: String) {
        let delegate = self.delegate
        self.delegate = nil
        phase = .idle
        delegate?.upstreamClosed(error: UpstreamProtocolError(reason: reason))
        context.close(promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        delegate?.upstreamReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        isWritable = context.channel.isWritable
        delegate?.upstreamWritabilityChanged(isWritable)
    }

    func channelInactive(context: ChannelHandlerContext) {
        isOpen = false
        if let connection { connection.pool.forget(connection) }
        self.connection = nil
        let delegate = self.delegate
        self.delegate = nil
        if phase == .body && framing == .untilClose {
            // The close is this response's end.
            phase = .idle
            delegate?.upstreamEnd(reusable: false)
        } else {
            delegate?.upstreamClosed(error: nil)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        let delegate = self.delegate
        self.delegate = nil
        delegate?.upstreamClosed(error: error)
        context.close(promise: nil)
    }
}

/// An upstream answered with something that is not HTTP/1.x (502).
struct UpstreamProtocolError: Error, CustomStringConvertible {
    var reason: String
    var description: String { reason }
}
