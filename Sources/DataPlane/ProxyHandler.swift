import Foundation
import NIOCore
import NIOHTTP1
import RouteModel

/// The reverse proxy for one HTTP/2 stream, behind the HTTP/2-to-HTTP/1 codec (HTTP/1.x connections
/// have their own byte-level handler, `HTTP1ProxyHandler`; both share the upstream pools).
///
/// A request reads the snapshot once, when its head arrives, and is routed by it to its end. The
/// upstream gets HTTP/1.1: the head as soon as it is known whether a body follows (chunked when it
/// does and has no Content-Length). Body parts stream both ways with backpressure: when the
/// upstream connection cannot take more, the stream stops reading, and the other way round.
final class ProxyHandler: ChannelInboundHandler, RemovableChannelHandler, UpstreamDelegate {
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

    init(store: SnapshotStore, loop: LoopState, configuration: DataPlaneConfiguration, scheme: String) {
        self.store = store
        self.loop = loop
        self.configuration = configuration
        self.scheme = scheme
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
        /// Its encoding, once queued (kept for a retry on another connection).
        var encodedHead: ByteBuffer?
        /// The body goes upstream with the chunked coding (no Content-Length).
        var chunked = false
        var upstream: UpstreamConnection?
        var endpoint: EndpointKey?
        var triedEndpoints: Set<EndpointKey> = []
        var connectAttempts = 0
        /// Encoded request bytes waiting for an upstream connection.
        var pending: [ByteBuffer] = []
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
        // A stream's remote address is its connection's.
        if let remote = context.channel.parent?.remoteAddress ?? context.channel.remoteAddress {
            clientAddress = remote.ipAddress ?? "-"
        }
    }

    // MARK: - Downstream

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            begin(head)
        case .body(let buffer):
            guard let exchange, !exchange.local else { return }
            exchange.bytesIn += buffer.readableBytes
            queueHead(exchange, bodyFollows: true)
            guard buffer.readableBytes > 0 else { return }
            if exchange.chunked {
                var frame = context.channel.allocator.buffer(capacity: 12)
                frame.writeString(String(buffer.readableBytes, radix: 16))
                frame.writeCRLF()
                queue(exchange, frame, body: false)
                queue(exchange, buffer, body: true)
                queue(exchange, ByteBuffer(bytes: [13, 10]), body: false)
            } else {
                queue(exchange, buffer, body: true)
            }
        case .end:
            guard let exchange else { return }
            exchange.requestComplete = true
            if exchange.local {
                if exchange.finished { self.exchange = nil }
                return
            }
            if exchange.encodedHead == nil {
                queueHead(exchange, bodyFollows: false)
            } else if exchange.chunked {
                queue(exchange, ByteBuffer(bytes: Self.lastChunk), body: false)
            }
            exchange.upstream?.flush()
        }
    }

    private static let lastChunk = Array("0\r\n\r\n".utf8)

    /// Sends (or holds until connected) the upstream head, once it is known whether a body follows.
    private func queueHead(_ e: Exchange, bodyFollows: Bool) {
        guard e.encodedHead == nil, let head = e.upstreamHead, !e.local else { return }
        e.chunked = bodyFollows && !head.headers.contains(name: "content-length")
        var out = context.channel.allocator.buffer(capacity: 512)
        out.writeString("\(head.method.rawValue) \(head.uri) HTTP/1.1\r\n")
        for (name, value) in head.headers {
            out.writeString(name)
            out.writeString(": ")
            out.writeString(value)
            out.writeCRLF()
        }
        if e.chunked { out.writeString("transfer-encoding: chunked\r\n") }
        out.writeCRLF()
        e.encodedHead = out
        queue(e, out, body: false)
    }

    private func queue(_ e: Exchange, _ bytes: ByteBuffer, body: Bool) {
        guard !e.local else { return }
        if let upstream = e.upstream {
            if body {
                e.bodyForwarded = true
                // The read timeout runs between upstream reads *after* the request is sent (nginx's
                // proxy_read_timeout): a long upload is activity too.
                e.lastUpstreamActivity = .now()
            }
            upstream.write(bytes)
        } else {
            e.pending.append(bytes)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        exchange?.upstream?.flush()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // The client is slow: stop reading the upstream response until it catches up.
        if let upstream = exchange?.upstream {
            upstream.setAutoRead(context.channel.isWritable)
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        downstreamOpen = false
        idleTimer?.cancel()
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

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    // MARK: - Routing

    private func begin(_ head: HTTPRequestHead) {
        let host = Self.normalizedHost(head.headers.first(name: "host") ?? "")
        let e = Exchange(head: head, host: host, requestID: head.headers.first(name: "x-request-id") ?? loop.requestID())
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
        headers.remove(name: "transfer-encoding")
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
        let key = loop.nextEndpoint(of: cluster) { e.triedEndpoints.contains($0) }
        e.triedEndpoints.insert(key)
        e.connectAttempts += 1
        e.endpoint = key
        if let connection = loop.pool.takeIdle(key) {
            attach(connection, to: e)
            return
        }
        // Hold the client's body until the connection is up.
        setDownstreamAutoRead(false)
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let bound = NIOLoopBound(e, eventLoop: context.eventLoop)
        let target = key
        loop.pool.connect(key).whenComplete { result in
            let this = handler.value
            let e = bound.value
            guard this.exchange === e, !e.finished else {
                if case .success(let connection) = result { this.loop.pool.release(connection) }
                return
            }
            switch result {
            case .success(let connection):
                this.attach(connection, to: e)
            case .failure(let error) where error is UpstreamLimitReached:
                this.respondLocally(
                    e, status: .serviceUnavailable, body: "503 service unavailable: connection limit of \(target) reached\n",
                    close: !e.requestComplete)
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
        connection.handler.expectResponse(toHEAD: e.requestHead.method == .HEAD, removesChunking: true)
        e.upstreamStart = .now()
        e.lastUpstreamActivity = .now()
        if e.pending.count > 1 { e.bodyForwarded = true }
        for part in e.pending { connection.write(part) }
        e.pending.removeAll()
        connection.flush()
        armReadTimer(e)
        // Resume reading the client, unless the upstream cannot take more yet.
        setDownstreamAutoRead(connection.channel.isWritable)
        connection.setAutoRead(context.channel.isWritable)
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

    func upstreamHead(_ head: ResponseHead) {
        guard let e = exchange, !e.finished else { return }
        e.lastUpstreamActivity = .now()
        // Informational responses have no HTTP/2 equivalent here; 101 cannot happen (no upgrades on streams).
        guard head.status >= 200 else { return }
        e.responseStarted = true
        e.status = head.status
        if let start = e.upstreamStart { loop.metrics.observeUpstream(seconds: secondsSince(start)) }
        var headers = HTTPHeaders()
        head.bytes.withUnsafeReadableBytes { p in
            for field in head.fields {
                switch field.kind {
                case .connection, .hopByHop, .upgrade, .transferEncoding:
                    continue
                case .other where head.connection.names(field, in: p):
                    continue
                default:
                    headers.add(
                        name: String(
                            decoding: UnsafeRawBufferPointer(rebasing: p[Int(field.nameStart)..<Int(field.nameEnd)]), as: UTF8.self),
                        value: String(
                            decoding: UnsafeRawBufferPointer(rebasing: p[Int(field.valueStart)..<Int(field.valueEnd)]), as: UTF8.self))
                }
            }
        }
        let response = HTTPResponseHead(
            version: e.requestHead.version, status: HTTPResponseStatus(statusCode: head.status), headers: headers)
        context.write(wrapOutboundOut(.head(response)), promise: nil)
    }

    func upstreamBody(_ bytes: ByteBuffer) {
        guard let e = exchange, !e.finished else { return }
        e.lastUpstreamActivity = .now()
        e.bytesOut += bytes.readableBytes
        context.write(wrapOutboundOut(.body(.byteBuffer(bytes))), promise: nil)
    }

    func upstreamEnd(reusable: Bool) {
        guard let e = exchange, !e.finished else { return }
        e.readTimer?.cancel()
        // Release and finish before the last write: writing the end closes the stream channel at
        // once, and `channelInactive` must not find an unfinished exchange there (it would drop the
        // upstream connection instead of pooling it).
        if let upstream = e.upstream {
            e.upstream = nil
            // Reuse only a connection whose exchange finished cleanly on both sides.
            if reusable && e.requestComplete {
                upstream.setAutoRead(true)
                loop.pool.release(upstream)
            } else {
                upstream.handler.delegate = nil
                upstream.channel.close(promise: nil)
            }
        }
        finish(e, status: e.status)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
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
            // Mid-response: the client cannot be told anything better than a reset stream.
            finish(e, status: e.status)
            context.close(promise: nil)
            return
        }
        if let protocolError = error as? UpstreamProtocolError {
            respondLocally(e, status: .badGateway, body: "502 bad gateway: \(protocolError.reason)\n", close: !e.requestComplete)
            return
        }
        // A pooled keep-alive connection the backend had already closed: try once more on a fresh one.
        if upstream.uses > 1 && !e.bodyForwarded && e.connectAttempts < 3 {
            if let head = e.encodedHead {
                e.pending = [head]
                if e.requestComplete && e.chunked { e.pending.append(ByteBuffer(bytes: Self.lastChunk)) }
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
        let upstreamSeconds = e.upstreamStart.map { secondsSince($0) }
        loop.accessLog.append(
            AccessLogRecord(
                start: e.start, client: clientAddress, method: e.requestHead.method.rawValue, host: e.host, uri: e.requestHead.uri,
                status: status, route: routeName, upstream: e.endpoint?.description, bytesIn: e.bytesIn, bytesOut: e.bytesOut,
                durationSeconds: secondsSince(e.startTime), upstreamSeconds: upstreamSeconds, requestID: e.requestID))
        // A locally answered request may still be sending its body: keep dropping it until `.end`.
        if !(e.local && !e.requestComplete) { exchange = nil }
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
