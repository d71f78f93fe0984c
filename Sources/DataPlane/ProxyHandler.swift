import Foundation
import NIOCore
import NIOHTTP1
import RouteModel

/// The reverse proxy for one downstream HTTP/1.1 connection (or one HTTP/2 stream, through the
/// HTTP/2-to-HTTP/1 codec).
///
/// A request reads the snapshot once, when its head arrives, and is routed by it to its end.
/// Body parts stream both ways with backpressure: when the upstream connection cannot take more,
/// the client connection stops reading, and the other way round, so a 1 GiB upload or download
/// passes in bounded memory. `HTTPServerPipelineHandler` (in front) serialises pipelined requests,
/// so there is at most one exchange at a time.
final class ProxyHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let store: SnapshotStore
    let loop: LoopState
    let configuration: DataPlaneConfiguration
    /// `http` or `https`: what X-Forwarded-Proto says.
    let scheme: String

    private var context: ChannelHandlerContext!
    private var exchange: Exchange?
    private var clientAddress = "-"
    private var downstreamOpen = true
    /// Client keep-alive idleness: one timer per connection that re-arms itself from the last
    /// activity, cheaper than an IdleStateHandler promise per write.
    private var lastActivity = NIODeadline.now()
    private var idleTimer: Scheduled<Void>?
    /// Whether this handler counts its channel in `activeConnections` (not for HTTP/2 streams: the
    /// HTTP/2 connection counts itself).
    private let countsConnection: Bool
    private var counted = false

    init(store: SnapshotStore, loop: LoopState, configuration: DataPlaneConfiguration, scheme: String, countsConnection: Bool = true) {
        self.store = store
        self.loop = loop
        self.configuration = configuration
        self.scheme = scheme
        self.countsConnection = countsConnection
    }

    /// One request/response exchange.
    final class Exchange {
        let start = Date()
        let startTime = NIODeadline.now()
        let requestHead: HTTPRequestHead
        let host: String
        let requestID: String
        var route: Route?
        var cluster: ClusterTarget?
        /// The head sent upstream.
        var upstreamHead: HTTPRequestHead?
        var upstream: UpstreamConnection?
        var endpoint: EndpointKey?
        var triedEndpoints: Set<EndpointKey> = []
        var connectAttempts = 0
        /// Request parts waiting for an upstream connection.
        var pending: [HTTPClientRequestPart] = []
        var requestComplete = false
        /// Body bytes already written upstream (a stale keep-alive connection may be retried only before any).
        var bodyForwarded = false
        var responseStarted = false
        /// Whether the backend will keep the connection open after this response.
        var upstreamKeepAlive = true
        var status = 0
        var bytesIn = 0
        var bytesOut = 0
        var upstreamStart: NIODeadline?
        var lastUpstreamActivity = NIODeadline.now()
        var readTimer: Scheduled<Void>?
        /// Answered locally: incoming body parts are dropped.
        var local = false
        var finished = false
        /// An HTTP/1.1 `Connection: upgrade` request (or CONNECT): the request decoder parses nothing
        /// after it, so the connection either becomes a tunnel (101) or closes after the response.
        var upgrade = false
        /// The backend answered 101: at the response's end both connections become a byte tunnel.
        var switching = false
        /// Counted in the in-flight gauge (requests that reached routing).
        var counted = false

        init(head: HTTPRequestHead, host: String, requestID: String) {
            self.requestHead = head
            self.host = host
            self.requestID = requestID
        }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if let remote = context.channel.remoteAddress { clientAddress = remote.ipAddress ?? "-" }
        // Added after the connection was set up (after ALPN or the h2c preface check).
        if context.channel.isActive { countConnection() }
    }

    func channelActive(context: ChannelHandlerContext) {
        if let remote = context.channel.remoteAddress { clientAddress = remote.ipAddress ?? "-" }
        countConnection()
        context.fireChannelActive()
    }

    private func countConnection() {
        guard countsConnection, !counted else { return }
        counted = true
        loop.metrics.activeConnections += 1
        loop.metrics.acceptedConnections += 1
    }

    // MARK: - Downstream

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            begin(head)
        case .body(let buffer):
            guard let exchange, !exchange.local else { return }
            exchange.bytesIn += buffer.readableBytes
            if let upstream = exchange.upstream {
                exchange.bodyForwarded = true
                // The read timeout runs between upstream reads *after* the request is sent (nginx's
                // proxy_read_timeout): a long upload is activity too.
                exchange.lastUpstreamActivity = .now()
                upstream.channel.write(HTTPClientRequestPart.body(.byteBuffer(buffer)), promise: nil)
            } else {
                exchange.pending.append(.body(.byteBuffer(buffer)))
            }
        case .end(let trailers):
            guard let exchange else { return }
            exchange.requestComplete = true
            if exchange.local {
                if exchange.finished { self.exchange = nil }
                return
            }
            if let upstream = exchange.upstream {
                upstream.channel.writeAndFlush(HTTPClientRequestPart.end(trailers), promise: nil)
            } else {
                exchange.pending.append(.end(trailers))
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        exchange?.upstream?.channel.flush()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // The client is slow: stop reading the upstream response until it catches up.
        if let upstream = exchange?.upstream {
            setUpstreamAutoRead(upstream, context.channel.isWritable)
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        downstreamOpen = false
        idleTimer?.cancel()
        if counted {
            counted = false
            loop.metrics.activeConnections -= 1
        }
        if let exchange, !exchange.finished {
            // The client went away mid-exchange: the upstream connection's state is unknown.
            exchange.readTimer?.cancel()
            if let upstream = exchange.upstream {
                upstream.handler.delegate = nil
                upstream.channel.close(promise: nil)
            }
            finish(exchange, status: exchange.status == 0 ? 499 : exchange.status)
        }
        context.fireChannelInactive()
    }

    func channelRegistered(context: ChannelHandlerContext) {
        countConnection()
        context.fireChannelRegistered()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // Malformed or ambiguous requests (the parser refuses them) never reach a backend.
        if let parserError = error as? HTTPParserError {
            let status: HTTPResponseStatus = parserError == .headerOverflow ? .requestHeaderFieldsTooLarge : .badRequest
            if exchange == nil || !(exchange!.responseStarted) {
                let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "-")
                let e = exchange ?? Exchange(head: head, host: "-", requestID: loop.requestID())
                exchange = e
                respondLocally(e, status: status, body: "\(status.code) \(status.reasonPhrase)\n", close: true)
            } else {
                context.close(promise: nil)
            }
            return
        }
        context.close(promise: nil)
    }

    // MARK: - Routing

    private func begin(_ head: HTTPRequestHead) {
        let host = Self.normalizedHost(head.headers.first(name: "host") ?? "")
        let e = Exchange(head: head, host: host, requestID: head.headers.first(name: "x-request-id") ?? loop.requestID())
        e.upgrade = Self.isUpgradeRequest(head)
        exchange = e
        e.counted = true
        loop.metrics.inFlight += 1

        if let status = checkLimits(head) {
            respondLocally(e, status: status, body: "\(status.code) \(status.reasonPhrase)\n", close: true)
            return
        }
        guard let snapshot = store.current else {
            respondLocally(e, status: .serviceUnavailable, body: "no revision is live yet\n", close: false)
            return
        }
        let (path, query) = Self.split(head.uri)
        let headers = head.headers
        guard
            let route = snapshot.route(
                host: host, path: path, method: head.method.rawValue, headers: { headers.first(name: $0) }, query: query)
        else {
            respondLocally(e, status: .notFound, body: "404 page not found\n", close: false)
            return
        }
        e.route = route
        if let redirect = route.action.redirect {
            respondLocally(
                e, status: HTTPResponseStatus(statusCode: redirect.status), body: "", close: false,
                extraHeaders: [("location", redirect.location)])
            return
        }
        if let direct = route.action.directResponse {
            respondLocally(e, status: HTTPResponseStatus(statusCode: direct.status), body: direct.body ?? "", close: false)
            return
        }
        guard let forward = route.action.forward, let backend = pickBackend(forward),
            let cluster = snapshot.clusters[backend]
        else {
            respondLocally(e, status: .serviceUnavailable, body: "no backend\n", close: false)
            return
        }
        e.cluster = cluster
        guard !cluster.usable.isEmpty else {
            respondLocally(e, status: .serviceUnavailable, body: "no endpoints for \(cluster.name)\n", close: false)
            return
        }
        e.upstreamHead = upstreamHead(for: head, exchange: e)
        e.pending.append(.head(e.upstreamHead!))
        connect(e)
    }

    private func pickBackend(_ forward: Forward) -> String? {
        if forward.backends.count == 1 { return forward.backends[0].cluster }
        let total = forward.backends.reduce(0) { $0 + max(0, $1.weight) }
        guard total > 0 else { return forward.backends.first?.cluster }
        var n = loop.randomBelow(total)
        for b in forward.backends where b.weight > 0 {
            if n < b.weight { return b.cluster }
            n -= b.weight
        }
        return forward.backends.last?.cluster
    }

    /// 414 for an over-long request line, 431 for too many or too large headers.
    private func checkLimits(_ head: HTTPRequestHead) -> HTTPResponseStatus? {
        if head.uri.utf8.count + head.method.rawValue.utf8.count + 10 > configuration.maxRequestLineBytes { return .uriTooLong }
        if head.headers.count > configuration.maxHeaderCount { return .requestHeaderFieldsTooLarge }
        var size = 0
        for (name, value) in head.headers { size += name.utf8.count + value.utf8.count + 4 }
        if size > configuration.maxHeaderBytes { return .requestHeaderFieldsTooLarge }
        return nil
    }

    /// The head sent upstream: hop-by-hop headers removed (RFC 9110 §7.6.1), X-Forwarded-* and
    /// X-Request-Id added, Host preserved.
    private func upstreamHead(for head: HTTPRequestHead, exchange e: Exchange) -> HTTPRequestHead {
        var headers = head.headers
        Self.removeHopByHop(&headers)
        let forwardedFor = headers.first(name: "x-forwarded-for").map { $0 + ", " + clientAddress } ?? clientAddress
        headers.replaceOrAdd(name: "x-forwarded-for", value: forwardedFor)
        headers.replaceOrAdd(name: "x-forwarded-proto", value: scheme)
        if let host = head.headers.first(name: "host") { headers.replaceOrAdd(name: "x-forwarded-host", value: host) }
        headers.replaceOrAdd(name: "x-request-id", value: e.requestID)
        if e.upgrade, let upgrade = head.headers.first(name: "upgrade") {
            // Pass-through: the backend decides whether to switch protocols.
            headers.replaceOrAdd(name: "upgrade", value: upgrade)
            headers.replaceOrAdd(name: "connection", value: "upgrade")
        }
        // HTTP/1.1 without a Connection header: the upstream connection stays open for reuse.
        return HTTPRequestHead(version: .http1_1, method: head.method, uri: head.uri, headers: headers)
    }

    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "proxy-authorization", "proxy-authenticate",
    ]

    static func removeHopByHop(_ headers: inout HTTPHeaders) {
        var named: [String] = []
        for value in headers[canonicalForm: "connection"] {
            let token = value.lowercased()
            if token != "close" && token != "keep-alive" { named.append(String(token)) }
        }
        for name in hopByHop { headers.remove(name: name) }
        for name in named { headers.remove(name: name) }
    }

    // MARK: - Upstream

    private func connect(_ e: Exchange) {
        guard let cluster = e.cluster else { return }
        let endpoints = cluster.usable
        var index = loop.nextIndex(cluster.name)
        var key = EndpointKey(endpoints[index % endpoints.count])
        // A retry goes to another endpoint when there is one.
        for _ in 0..<endpoints.count where e.triedEndpoints.contains(key) {
            index += 1
            key = EndpointKey(endpoints[index % endpoints.count])
        }
        e.triedEndpoints.insert(key)
        e.connectAttempts += 1
        e.endpoint = key
        // An upgrade may turn the connection into a tunnel: it never comes from or goes to the pool.
        if !e.upgrade, let connection = loop.pool.takeIdle(key) {
            attach(connection, to: e)
            return
        }
        // Hold the client's body until the connection is up.
        setDownstreamAutoRead(false)
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let bound = NIOLoopBound(e, eventLoop: context.eventLoop)
        let target = key
        let connecting = e.upgrade ? loop.pool.connectForUpgrade(key) : loop.pool.connect(key)
        connecting.whenComplete { result in
            let this = handler.value
            let e = bound.value
            guard this.exchange === e, !e.finished else {
                if case .success(let connection) = result { connection.channel.close(promise: nil) }
                return
            }
            switch result {
            case .success(let connection):
                this.attach(connection, to: e)
            case .failure:
                this.loop.metrics.upstreamConnectFailures += 1
                // One retry on another endpoint when the connection could not be established.
                if e.connectAttempts < 2 && cluster.usable.count > 1 {
                    this.connect(e)
                } else {
                    this.respondLocally(
                        e, status: .badGateway, body: "502 bad gateway: cannot connect to \(target)\n", close: !e.requestComplete)
                }
            }
        }
    }

    private func attach(_ connection: UpstreamConnection, to e: Exchange) {
        e.upstream = connection
        e.endpoint = connection.key
        connection.uses += 1
        connection.handler.delegate = self
        e.upstreamStart = .now()
        e.lastUpstreamActivity = .now()
        for part in e.pending {
            if case .body = part { e.bodyForwarded = true }
            connection.channel.write(part, promise: nil)
        }
        e.pending.removeAll()
        connection.channel.flush()
        armReadTimer(e)
        // Resume reading the client, unless the upstream cannot take more yet.
        setDownstreamAutoRead(connection.channel.isWritable)
        setUpstreamAutoRead(connection, context.channel.isWritable)
    }

    /// Pauses or resumes reading the client. Resuming also asks for a read: an HTTP/2 stream channel,
    /// unlike a socket channel, does not start reading again when `autoRead` is switched back on.
    private func setDownstreamAutoRead(_ on: Bool) {
        // Only real changes touch the channel: setOption costs a future and a dynamic cast.
        guard on != downstreamAutoRead else { return }
        downstreamAutoRead = on
        context.channel.setOption(ChannelOptions.autoRead, value: on).whenComplete { _ in }
        if on { context.read() }
    }

    private var downstreamAutoRead = true

    private func setUpstreamAutoRead(_ connection: UpstreamConnection, _ on: Bool) {
        guard on != connection.autoRead else { return }
        connection.autoRead = on
        connection.channel.setOption(ChannelOptions.autoRead, value: on).whenComplete { _ in }
    }

    private func armReadTimer(_ e: Exchange) {
        let timeout = configuration.readTimeout
        let deadline = e.lastUpstreamActivity + timeout
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let bound = NIOLoopBound(e, eventLoop: context.eventLoop)
        e.readTimer = context.eventLoop.scheduleTask(deadline: deadline) {
            let this = handler.value
            let e = bound.value
            guard this.exchange === e, !e.finished else { return }
            if e.lastUpstreamActivity + timeout > .now() {
                this.armReadTimer(e)
                return
            }
            this.upstreamTimedOut(e)
        }
    }

    private func upstreamTimedOut(_ e: Exchange) {
        if let upstream = e.upstream {
            upstream.handler.delegate = nil
            upstream.channel.close(promise: nil)
        }
        e.upstream = nil
        if e.responseStarted {
            finish(e, status: e.status)
            context.close(promise: nil)
        } else {
            respondLocally(e, status: .gatewayTimeout, body: "504 gateway timeout\n", close: !e.requestComplete)
        }
    }

    func upstreamRead(_ part: HTTPClientResponsePart) {
        guard let e = exchange, !e.finished else { return }
        e.lastUpstreamActivity = .now()
        switch part {
        case .head(let head):
            e.responseStarted = true
            e.status = Int(head.status.code)
            e.upstreamKeepAlive = head.isKeepAlive
            if let start = e.upstreamStart { loop.metrics.observeUpstream(seconds: Self.seconds(since: start)) }
            if e.upgrade && head.status == .switchingProtocols && e.requestHead.version.major == 1 {
                // The backend switches protocols: forward its 101 as is (Upgrade, Connection and the
                // protocol's own headers); the tunnel starts at the response's end.
                e.switching = true
                context.write(
                    wrapOutboundOut(.head(HTTPResponseHead(version: e.requestHead.version, status: head.status, headers: head.headers))),
                    promise: nil)
                return
            }
            var headers = head.headers
            Self.removeHopByHop(&headers)
            Self.setPersistence(&headers, for: e.requestHead)
            if e.upgrade { headers.replaceOrAdd(name: "connection", value: "close") }
            let response = HTTPResponseHead(version: e.requestHead.version, status: head.status, headers: headers)
            context.write(wrapOutboundOut(.head(response)), promise: nil)
        case .body(let buffer):
            e.bytesOut += buffer.readableBytes
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        case .end(let trailers):
            e.readTimer?.cancel()
            if e.switching, let upstream = e.upstream {
                e.upstream = nil
                upstream.handler.delegate = nil
                finish(e, status: 101)
                // The tunnel keeps its own idle time from here on.
                idleTimer?.cancel()
                idleTimer = nil
                let counted = self.counted
                self.counted = false
                UpgradeTunnel.splice(
                    downstream: context, upstream: upstream, loop: loop, configuration: configuration, countsConnection: counted)
                return
            }
            // Release and finish before the last write: on an HTTP/2 stream, writing the end closes the
            // stream channel at once, and `channelInactive` must not find an unfinished exchange there
            // (it would drop the upstream connection instead of pooling it).
            if let upstream = e.upstream {
                upstream.handler.delegate = nil
                // Reuse only a connection whose exchange finished cleanly on both sides.
                if e.requestComplete && e.upstreamKeepAlive && !e.upgrade {
                    setUpstreamAutoRead(upstream, true)
                    loop.pool.release(upstream)
                } else {
                    upstream.channel.close(promise: nil)
                }
            }
            e.upstream = nil
            finish(e, status: e.status)
            let written = context.writeAndFlush(wrapOutboundOut(.end(trailers)))
            if !e.requestHead.isKeepAlive || e.upgrade { closeAfter(written) }
        }
    }

    func upstreamReadComplete() {
        context.flush()
    }

    func upstreamWritabilityChanged(_ writable: Bool) {
        guard exchange?.upstream != nil else { return }
        setDownstreamAutoRead(writable)
    }

    func upstreamClosed(error: Error?) {
        guard let e = exchange, !e.finished, let upstream = e.upstream else { return }
        upstream.handler.delegate = nil
        e.upstream = nil
        e.readTimer?.cancel()
        if e.responseStarted {
            // Mid-response: the client cannot be told anything better than a cut connection.
            finish(e, status: e.status)
            context.close(promise: nil)
            return
        }
        // A pooled keep-alive connection the backend had already closed: try once more on a fresh one.
        if upstream.uses > 1 && !e.bodyForwarded && e.connectAttempts < 3, let head = e.upstreamHead {
            e.pending.insert(.head(head), at: 0)
            if e.requestComplete && !e.pending.contains(where: { if case .end = $0 { return true } else { return false } }) {
                e.pending.append(.end(nil))
            }
            e.triedEndpoints.remove(upstream.key)
            connect(e)
            return
        }
        respondLocally(e, status: .badGateway, body: "502 bad gateway: upstream closed the connection\n", close: !e.requestComplete)
    }

    // MARK: - Local responses and bookkeeping

    private func respondLocally(
        _ e: Exchange, status: HTTPResponseStatus, body: String, close: Bool, extraHeaders: [(String, String)] = []
    ) {
        guard downstreamOpen else {
            finish(e, status: Int(status.code))
            return
        }
        e.local = true
        e.status = Int(status.code)
        e.pending.removeAll()
        e.readTimer?.cancel()
        var headers = HTTPHeaders()
        headers.add(name: "content-length", value: String(body.utf8.count))
        if !body.isEmpty { headers.add(name: "content-type", value: "text/plain; charset=utf-8") }
        headers.add(name: "x-request-id", value: e.requestID)
        for (name, value) in extraHeaders { headers.add(name: name, value: value) }
        let close = close || !e.requestHead.isKeepAlive || e.upgrade
        if close {
            headers.add(name: "connection", value: "close")
        } else {
            Self.setPersistence(&headers, for: e.requestHead)
        }
        let head = HTTPResponseHead(version: e.requestHead.version, status: status, headers: headers)
        e.responseStarted = true
        e.bytesOut += body.utf8.count
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if !body.isEmpty { context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil) }
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if close { closeAfter(written) }
        // Resume reading so the rest of the request body can be drained.
        setDownstreamAutoRead(true)
        finish(e, status: Int(status.code))
    }

    /// What llhttp treats as an upgrade (`Connection: upgrade` with `Upgrade`, or CONNECT): the server
    /// decoder stops parsing after such a request. HTTP/1.x only (HTTP/2 forbids both headers).
    static func isUpgradeRequest(_ head: HTTPRequestHead) -> Bool {
        guard head.version.major == 1 else { return false }
        if head.method == .CONNECT { return true }
        guard head.headers.contains(name: "upgrade") else { return false }
        return head.headers[canonicalForm: "connection"].contains { $0.lowercased() == "upgrade" }
    }

    /// `Connection: close` for a client that asked for it; `keep-alive` for an HTTP/1.0 client that asked to keep it.
    static func setPersistence(_ headers: inout HTTPHeaders, for request: HTTPRequestHead) {
        if !request.isKeepAlive {
            headers.replaceOrAdd(name: "connection", value: "close")
        } else if request.version.minor == 0 {
            headers.replaceOrAdd(name: "connection", value: "keep-alive")
        }
    }

    private func closeAfter(_ written: EventLoopFuture<Void>) {
        let ctx = NIOLoopBound(context!, eventLoop: context.eventLoop)
        written.whenComplete { _ in ctx.value.close(promise: nil) }
    }

    private func finish(_ e: Exchange, status: Int) {
        guard !e.finished else { return }
        e.finished = true
        lastActivity = .now()
        e.readTimer?.cancel()
        if e.counted { loop.metrics.inFlight -= 1 }
        let routeName = e.route?.name
        loop.metrics.record(route: routeName ?? "", status: status)
        let upstreamSeconds = e.upstreamStart.map { Self.seconds(since: $0) }
        loop.accessLog.append(
            AccessLogRecord(
                start: e.start, client: clientAddress, method: e.requestHead.method.rawValue, host: e.host, uri: e.requestHead.uri,
                status: status, route: routeName, upstream: e.endpoint?.description, bytesIn: e.bytesIn, bytesOut: e.bytesOut,
                durationSeconds: Self.seconds(since: e.startTime), upstreamSeconds: upstreamSeconds, requestID: e.requestID))
        // A locally answered request may still be sending its body: keep dropping it until `.end`.
        if !(e.local && !e.requestComplete) { exchange = nil }
    }

    static func seconds(since start: NIODeadline) -> Double {
        Double((NIODeadline.now() - start).nanoseconds) / 1e9
    }

    static func split(_ uri: String) -> (Substring, Substring) {
        let s = Substring(uri)
        if let q = s.firstIndex(of: "?") { return (s[..<q], s[s.index(after: q)...]) }
        return (s, "")
    }

    /// Lowercased, without port or trailing dot.
    static func normalizedHost(_ host: String) -> String {
        var h = Substring(host)
        if h.hasPrefix("[") {
            if let end = h.firstIndex(of: "]") { h = h[...end] }
        } else if let colon = h.lastIndex(of: ":") {
            h = h[..<colon]
        }
        while h.hasSuffix(".") { h = h.dropLast() }
        return h.lowercased()
    }
}
