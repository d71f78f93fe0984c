import Foundation
import NIOCore
import NIOHTTP1
import RouteModel

/// The reverse proxy for one downstream HTTP/1.x connection, on bytes.
///
/// The request head is parsed in place (`RequestHead`), routed by the snapshot current when it
/// arrived, and sent upstream as the client's own header lines minus the hop-by-hop ones plus the
/// X-Forwarded-* and X-Request-Id lines. Bodies are forwarded as the byte buffers they arrive in;
/// their framing is followed only to find where each message ends. A 101 answer to an upgrade
/// request turns the two connections into a byte tunnel. Backpressure both ways: when one side
/// cannot take more, the other stops reading. Pipelined requests wait in the input buffer until
/// the response before them is complete.
final class HTTP1ProxyHandler: ChannelInboundHandler, UpstreamDelegate {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let store: SnapshotStore
    let loop: LoopState
    let configuration: DataPlaneConfiguration
    /// `http` or `https`: what X-Forwarded-Proto says.
    let scheme: String
    private let limits: HeadLimits

    private var context: ChannelHandlerContext!
    private var clientAddress = "-"
    /// Received bytes not processed yet: a partial head, or pipelined requests.
    private var inbound: ByteBuffer?
    /// Where the search for the end of a partial head resumes.
    private var scanFrom = 0
    private var exchange: Exchange?
    /// After a 101: the upstream connection this one is tunnelled to.
    private var tunnel: UpstreamConnection?
    /// A response that ends the connection was sent: input is ignored from then on.
    private var closing = false
    private var downstreamOpen = true
    private var readingPaused = false
    private var processing = false
    private var downstreamWritable = true
    /// Keep-alive and tunnel idleness and the upstream read timeout share one timer per connection
    /// that re-arms itself from the last activity, instead of a timer scheduled and cancelled per request.
    private var lastActivity = NIODeadline.now()
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    private var counted = false

    init(store: SnapshotStore, loop: LoopState, configuration: DataPlaneConfiguration, scheme: String) {
        self.store = store
        self.loop = loop
        self.configuration = configuration
        self.scheme = scheme
        self.limits = HeadLimits(
            maxRequestLine: configuration.maxRequestLineBytes, maxHeaderBytes: configuration.maxHeaderBytes,
            maxHeaderCount: configuration.maxHeaderCount)
    }

    /// One request/response exchange.
    final class Exchange {
        let startTime = NIODeadline.now()
        let head: RequestHead
        let host: String
        /// The client's X-Request-Id, or one made up here.
        let requestID: String
        var route: RouteEntry?
        var cluster: ClusterTarget?
        /// The head sent upstream, kept for a retry on another connection.
        var upstreamHead = ByteBuffer()
        var upstream: UpstreamConnection?
        var endpoint: EndpointKey?
        var triedEndpoints: [EndpointKey] = []
        var connectAttempts = 0
        /// Body bytes waiting for the upstream connection.
        var pending: [ByteBuffer] = []
        var bodyRemaining = 0
        var chunks = ChunkedScanner()
        var requestComplete = false
        /// Body bytes already went upstream (a stale keep-alive connection may be retried only before).
        var bodyForwarded = false
        var responseStarted = false
        /// The connection closes after this response.
        var closeAfter = false
        var status = 0
        var bytesIn = 0
        var bytesOut = 0
        var upstreamStart: NIODeadline?
        var lastUpstreamActivity = NIODeadline.now()
        /// Answered here: incoming body bytes are dropped.
        var local = false
        var finished = false

        init(head: RequestHead, host: String, requestID: String) {
            self.head = head
            self.host = host
            self.requestID = requestID
        }
    }

    // MARK: - Connection

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if let remote = context.channel.remoteAddress { clientAddress = remote.ipAddress ?? "-" }
        // Added after the connection was set up (after the h2c preface check or ALPN).
        if context.channel.isActive { connectionStarted() }
    }

    func channelActive(context: ChannelHandlerContext) {
        if let remote = context.channel.remoteAddress { clientAddress = remote.ipAddress ?? "-" }
        connectionStarted()
        context.fireChannelActive()
    }

    private func connectionStarted() {
        guard !counted else { return }
        counted = true
        loop.metrics.activeConnections += 1
        loop.metrics.acceptedConnections += 1
        armTimer(by: lastActivity + configuration.idleTimeout)
    }

    func channelInactive(context: ChannelHandlerContext) {
        downstreamOpen = false
        timer?.cancel()
        if counted {
            counted = false
            loop.metrics.activeConnections -= 1
        }
        if let tunnel {
            self.tunnel = nil
            tunnel.handler.delegate = nil
            tunnel.flush()
            tunnel.channel.close(promise: nil)
        }
        if let e = exchange, !e.finished {
            // The client went away mid-exchange: the upstream connection's state is unknown.
            dropUpstream(e)
            finish(e, status: e.status == 0 ? 499 : e.status)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    /// Makes sure the connection's timer fires no later than `deadline`.
    private func armTimer(by deadline: NIODeadline) {
        if let timerDeadline, timerDeadline <= deadline { return }
        timer?.cancel()
        timerDeadline = deadline
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: deadline) { handler.value.timerFired() }
    }

    private func timerFired() {
        timerDeadline = nil
        timer = nil
        guard downstreamOpen else { return }
        let now = NIODeadline.now()
        if let e = exchange, !e.finished {
            if e.upstream != nil {
                // Waiting for (or reading) the upstream response: the read timeout (504).
                let due = e.lastUpstreamActivity + configuration.readTimeout
                if due <= now {
                    upstreamTimedOut(e)
                    lastActivity = now
                    if downstreamOpen && !closing { armTimer(by: now + configuration.idleTimeout) }
                    return
                }
                armTimer(by: due)
            } else {
                // Connecting (the connect timeout applies) or draining a body answered locally.
                lastActivity = now
                armTimer(by: now + configuration.idleTimeout)
            }
            return
        }
        // Idle means no exchange in progress and, in a tunnel, no bytes either way.
        let due = lastActivity + configuration.idleTimeout
        if due <= now {
            context.close(promise: nil)
        } else {
            armTimer(by: due)
        }
    }

    // MARK: - Downstream bytes

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if let tunnel {
            lastActivity = .now()
            tunnel.write(buffer)
            return
        }
        if closing { return }
        if inbound == nil {
            inbound = buffer
        } else {
            inbound!.writeBuffer(&buffer)
        }
        process()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if let tunnel {
            tunnel.flush()
        } else if let upstream = exchange?.upstream {
            upstream.flush()
        }
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // The client is slow: stop reading the upstream until it catches up.
        downstreamWritable = context.channel.isWritable
        if let upstream = tunnel ?? exchange?.upstream {
            upstream.setAutoRead(downstreamWritable)
        }
        context.fireChannelWritabilityChanged()
    }

    /// Works through the input: the next head, or the body of the current request.
    private func process() {
        // Answers given while processing (a pipelined burst of 404s) must not recurse into here.
        guard !processing else { return }
        processing = true
        defer { processing = false }
        while !closing, var input = inbound, input.readableBytes > 0 {
            if let e = exchange {
                if e.requestComplete {
                    // A pipelined request: it waits for the response before it. Reading pauses
                    // once a lot has piled up.
                    if input.readableBytes > 64 * 1024 { setReading(false) }
                    return
                }
                inbound = nil
                guard consumeBody(e, &input) else { return }
                if input.readableBytes > 0 { inbound = input }
                if e.finished && e.requestComplete { exchange = nil }
                continue
            }
            // Empty lines before a request line are ignored (RFC 9112 §2.2).
            if scanFrom == 0 {
                let blank = input.withUnsafeReadableBytes { p in
                    var i = 0
                    while i < p.count && (p[i] == HTTPBytes.cr || p[i] == HTTPBytes.lf) { i += 1 }
                    return i
                }
                if blank > 0 {
                    input.moveReaderIndex(forwardBy: blank)
                    inbound = input.readableBytes > 0 ? input : nil
                    continue
                }
            }
            let from = scanFrom
            guard let length = input.withUnsafeReadableBytes({ HTTPBytes.headEnd($0, from: from) }) else {
                if let error = incompleteHeadError(input) {
                    refuse(error)
                } else {
                    scanFrom = max(0, input.readableBytes - 3)
                }
                return
            }
            scanFrom = 0
            let head: RequestHead
            do {
                head = try RequestHead.parse(input, length: length, limits: limits)
            } catch {
                refuse(error)
                return
            }
            input.moveReaderIndex(forwardBy: length)
            inbound = input.readableBytes > 0 ? input : nil
            begin(head)
        }
    }

    /// Limits that a head still incomplete already exceeds.
    private func incompleteHeadError(_ input: ByteBuffer) -> HeadError? {
        let size = input.readableBytes
        guard size > limits.maxRequestLine else { return nil }
        let lineEnded = input.withUnsafeReadableBytes { p in
            p.prefix(limits.maxRequestLine).contains(HTTPBytes.lf)
        }
        if !lineEnded { return .uriTooLong }
        return size > limits.maxRequestLine + limits.maxHeaderBytes ? .headersTooLarge : nil
    }

    /// Takes the current request's body bytes from `input`; false when the connection failed.
    private func consumeBody(_ e: Exchange, _ input: inout ByteBuffer) -> Bool {
        switch e.head.framing {
        case .length:
            let n = min(e.bodyRemaining, input.readableBytes)
            e.bodyRemaining -= n
            forwardBody(e, input.readSlice(length: n)!)
            if e.bodyRemaining == 0 { requestEnded(e) }
        case .chunked:
            let consumed: Int
            do {
                consumed = try input.withUnsafeReadableBytes { p throws(HeadError) in try e.chunks.scan(p) { _ in } }
            } catch {
                if e.responseStarted || e.upstream != nil {
                    dropUpstream(e)
                    finish(e, status: e.status == 0 ? 400 : e.status)
                    closeNow()
                } else {
                    respondLocally(e, status: 400, body: "400 bad request: \(error.reason)\n", close: true)
                }
                return false
            }
            forwardBody(e, input.readSlice(length: consumed)!)
            if e.chunks.isDone { requestEnded(e) }
        case .none, .untilClose:
            requestEnded(e)
        }
        return true
    }

    private func forwardBody(_ e: Exchange, _ bytes: ByteBuffer) {
        guard bytes.readableBytes > 0 else { return }
        e.bytesIn += bytes.readableBytes
        if e.local { return }
        if let upstream = e.upstream {
            e.bodyForwarded = true
            // The read timeout runs between upstream reads after the request is sent (nginx's
            // proxy_read_timeout): a long upload counts as activity.
            e.lastUpstreamActivity = .now()
            upstream.write(bytes)
        } else {
            e.pending.append(bytes)
        }
    }

    private func requestEnded(_ e: Exchange) {
        e.requestComplete = true
        if let upstream = e.upstream, !e.local { upstream.flush() }
    }

    // MARK: - Routing

    private func begin(_ head: RequestHead) {
        lastActivity = .now()
        let host = head.normalizedHost
        let e = Exchange(head: head, host: host, requestID: head.value(of: .xRequestID) ?? loop.requestID())
        exchange = e
        loop.metrics.inFlight += 1
        switch head.framing {
        case .length(let n): e.bodyRemaining = n
        case .none: e.requestComplete = true
        default: break
        }
        if head.method.count == 7 && head.methodString == "CONNECT" {
            respondLocally(e, status: 405, body: "405 method not allowed\n", close: true)
            return
        }
        guard let snapshot = store.current else {
            respondLocally(e, status: 503, body: "no revision is live yet\n", close: false)
            return
        }
        let (path, query) = head.pathAndQuery
        guard
            let entry = snapshot.entry(
                host: host, path: path, method: head.methodString, headers: { head.value(named: $0) }, query: query)
        else {
            respondLocally(e, status: 404, body: "404 page not found\n", close: false)
            return
        }
        e.route = entry
        if let redirect = entry.route.action.redirect {
            respondLocally(e, status: redirect.status, body: "", close: false, extraHeaders: [("location", redirect.location)])
            return
        }
        if let direct = entry.route.action.directResponse {
            respondLocally(e, status: direct.status, body: direct.body ?? "", close: false)
            return
        }
        guard let cluster = entry.pickBackend({ loop.randomBelow($0) }) else {
            respondLocally(e, status: 503, body: "no backend\n", close: false)
            return
        }
        e.cluster = cluster
        guard !cluster.usable.isEmpty else {
            respondLocally(e, status: 503, body: "no endpoints for \(cluster.name)\n", close: false)
            return
        }
        e.upstreamHead = upstreamHead(for: e)
        connect(e)
    }

    private static let http11 = Array(" HTTP/1.1\r\n".utf8)
    private static let xForwardedFor = Array("x-forwarded-for: ".utf8)
    private static let xForwardedProto = Array("x-forwarded-proto: ".utf8)
    private static let xForwardedHost = Array("x-forwarded-host: ".utf8)
    private static let xRequestID = Array("x-request-id: ".utf8)
    private static let connectionUpgrade = Array("connection: upgrade\r\n".utf8)
    private static let commaSpace = Array(", ".utf8)

    /// The head sent upstream: the client's lines without hop-by-hop fields (RFC 9110 §7.6.1), with
    /// X-Forwarded-For/-Proto/-Host and X-Request-Id; Host preserved; always HTTP/1.1 (keep-alive).
    private func upstreamHead(for e: Exchange) -> ByteBuffer {
        let head = e.head
        var out = context.channel.allocator.buffer(capacity: head.bytes.readableBytes + 160)
        head.bytes.withUnsafeReadableBytes { p in
            out.writeBytes(p, head.method.lowerBound, head.method.upperBound)
            out.writeInteger(UInt8(32))
            if head.pathStart == head.target.upperBound {
                out.writeInteger(UInt8(ascii: "/"))
            } else {
                out.writeBytes(p, head.pathStart, head.target.upperBound)
            }
            out.writeBytes(Self.http11)
            var forwardedFor: [(Int, Int)] = []
            var hostField = false
            for field in head.fields {
                switch field.kind {
                case .connection, .hopByHop, .transferEncoding, .xForwardedProto, .xForwardedHost, .xRequestID:
                    // Transfer-Encoding goes back in below: only `chunked` is accepted, and it is kept.
                    if field.kind == .transferEncoding { Self.writeLine(&out, p, field) }
                    continue
                case .upgrade:
                    if head.isUpgrade { Self.writeLine(&out, p, field) }
                    continue
                case .xForwardedFor:
                    forwardedFor.append((Int(field.valueStart), Int(field.valueEnd)))
                    continue
                case .host:
                    hostField = true
                case .other:
                    if head.connection.names(field, in: p) { continue }
                case .contentLength:
                    break
                }
                Self.writeLine(&out, p, field)
            }
            // An absolute-form request had no Host line to copy: its authority becomes one.
            if !hostField, let host = head.host {
                out.writeString("host: ")
                out.writeBytes(p, host.lowerBound, host.upperBound)
                out.writeCRLF()
            }
            out.writeBytes(Self.xForwardedFor)
            for (start, end) in forwardedFor {
                out.writeBytes(p, start, end)
                out.writeBytes(Self.commaSpace)
            }
            out.writeString(clientAddress)
            out.writeCRLF()
            out.writeBytes(Self.xForwardedProto)
            out.writeString(scheme)
            out.writeCRLF()
            if let host = head.host {
                out.writeBytes(Self.xForwardedHost)
                out.writeBytes(p, host.lowerBound, host.upperBound)
                out.writeCRLF()
            }
        }
        out.writeBytes(Self.xRequestID)
        out.writeString(e.requestID)
        out.writeCRLF()
        if head.isUpgrade { out.writeBytes(Self.connectionUpgrade) }
        out.writeCRLF()
        return out
    }

    @inline(__always)
    private static func writeLine(_ out: inout ByteBuffer, _ p: UnsafeRawBufferPointer, _ field: HeaderField) {
        out.writeBytes(p, Int(field.nameStart), Int(field.valueEnd))
        out.writeCRLF()
    }

    // MARK: - Upstream

    private func connect(_ e: Exchange) {
        guard let cluster = e.cluster else { return }
        let key = loop.nextEndpoint(of: cluster) { e.triedEndpoints.contains($0) }
        if !e.triedEndpoints.contains(key) { e.triedEndpoints.append(key) }
        e.connectAttempts += 1
        e.endpoint = key
        // An upgrade may turn the connection into a tunnel: it never comes from the pool.
        if !e.head.isUpgrade, let connection = loop.pool.takeIdle(key) {
            attach(connection, to: e)
            return
        }
        // Hold the client's body until the connection is up.
        setReading(false)
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
                    e, status: 503, body: "503 service unavailable: connection limit of \(target) reached\n", close: !e.requestComplete)
            case .failure:
                this.loop.metrics.upstreamConnectFailures += 1
                // One retry on another endpoint when the connection could not be established.
                if e.connectAttempts < 2 && cluster.usable.count > 1 {
                    this.connect(e)
                } else {
                    this.respondLocally(
                        e, status: 502, body: "502 bad gateway: cannot connect to \(target)\n", close: !e.requestComplete)
                }
            }
        }
    }

    private func attach(_ connection: UpstreamConnection, to e: Exchange) {
        e.upstream = connection
        e.endpoint = connection.key
        connection.uses += 1
        connection.handler.delegate = self
        connection.handler.expectResponse(toHEAD: e.head.isHEAD, removesChunking: e.head.minorVersion == 0)
        e.upstreamStart = .now()
        e.lastUpstreamActivity = e.upstreamStart!
        connection.write(e.upstreamHead)
        if !e.pending.isEmpty {
            e.bodyForwarded = true
            for part in e.pending { connection.write(part) }
            e.pending.removeAll()
        }
        connection.flush()
        armTimer(by: e.lastUpstreamActivity + configuration.readTimeout)
        // Resume reading the client, unless the upstream cannot take more yet.
        setReading(connection.handler.isWritable)
        connection.setAutoRead(downstreamWritable)
    }

    /// Pauses or resumes reading the client.
    private func setReading(_ on: Bool) {
        guard on == readingPaused else { return }
        readingPaused = !on
        context.channel.setOption(ChannelOptions.autoRead, value: on).whenComplete { _ in }
        if on { context.read() }
    }

    private func upstreamTimedOut(_ e: Exchange) {
        dropUpstream(e)
        if e.responseStarted {
            finish(e, status: e.status)
            closeNow()
        } else {
            respondLocally(e, status: 504, body: "504 gateway timeout\n", close: !e.requestComplete)
        }
    }

    /// Closes the exchange's upstream connection (its state is unknown) and forgets it.
    private func dropUpstream(_ e: Exchange) {
        if let upstream = e.upstream {
            upstream.handler.delegate = nil
            upstream.channel.close(promise: nil)
        }
        e.upstream = nil
    }

    private static let version11 = Array("HTTP/1.1 ".utf8)
    private static let connectionClose = Array("connection: close\r\n".utf8)
    private static let connectionKeepAlive = Array("connection: keep-alive\r\n".utf8)

    func upstreamHead(_ head: ResponseHead) {
        guard let e = exchange, !e.finished else { return }
        e.lastUpstreamActivity = .now()
        if head.status < 200 && head.status != 101 {
            // 100 Continue and 103 Early Hints go to HTTP/1.1 clients as they are.
            if e.head.minorVersion >= 1 { context.write(wrapOutboundOut(head.bytes), promise: nil) }
            return
        }
        e.responseStarted = true
        e.status = head.status
        if let start = e.upstreamStart { loop.metrics.observeUpstream(seconds: secondsSince(start)) }
        if head.status == 101 {
            guard e.head.isUpgrade, let upstream = e.upstream else {
                // Switching protocols unasked: nothing sensible can follow.
                dropUpstream(e)
                finish(e, status: 502)
                closeNow()
                return
            }
            startTunnel(e, upstream: upstream, head: head)
            return
        }
        let framing = head.framing(requestWasHEAD: e.head.isHEAD)
        // An HTTP/1.0 client gets a chunked body without its coding, delimited by the close.
        let unchunked = e.head.minorVersion == 0 && framing == .chunked
        e.closeAfter = !e.head.keepAlive || framing == .untilClose || unchunked || e.head.isUpgrade
        var out = context.channel.allocator.buffer(capacity: head.bytes.readableBytes + 32)
        out.writeBytes(Self.version11)
        head.bytes.withUnsafeReadableBytes { p in
            out.writeBytes(p, head.statusText.lowerBound, head.statusText.upperBound)
            out.writeCRLF()
            for field in head.fields {
                switch field.kind {
                case .connection, .hopByHop, .upgrade:
                    continue
                case .transferEncoding where unchunked:
                    continue
                case .other where head.connection.names(field, in: p):
                    continue
                default:
                    Self.writeLine(&out, p, field)
                }
            }
        }
        if e.closeAfter {
            out.writeBytes(Self.connectionClose)
        } else if e.head.minorVersion == 0 {
            out.writeBytes(Self.connectionKeepAlive)
        }
        out.writeCRLF()
        e.bytesOut += out.readableBytes
        context.write(wrapOutboundOut(out), promise: nil)
    }

    func upstreamBody(_ bytes: ByteBuffer) {
        if tunnel != nil {
            lastActivity = .now()
            context.write(wrapOutboundOut(bytes), promise: nil)
            return
        }
        guard let e = exchange, !e.finished else { return }
        e.lastUpstreamActivity = .now()
        e.bytesOut += bytes.readableBytes
        context.write(wrapOutboundOut(bytes), promise: nil)
    }

    func upstreamReadComplete() {
        context.flush()
    }

    func upstreamWritabilityChanged(_ writable: Bool) {
        guard tunnel != nil || exchange?.upstream != nil else { return }
        setReading(writable)
    }

    func upstreamEnd(reusable: Bool) {
        guard let e = exchange, !e.finished else { return }
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
        if e.closeAfter || !e.requestComplete {
            closeAfterWrites()
            return
        }
        // The upstream's read-complete event no longer reaches this handler (the connection was released).
        context.flush()
        exchange = nil
        lastActivity = .now()
        setReading(true)
        if inbound != nil { process() }
    }

    func upstreamClosed(error: Error?) {
        if let tunnel {
            tunnel.handler.delegate = nil
            self.tunnel = nil
            closeAfterWrites()
            return
        }
        guard let e = exchange, !e.finished, let upstream = e.upstream else { return }
        upstream.handler.delegate = nil
        e.upstream = nil
        if e.responseStarted {
            // Mid-response: the client cannot be told anything better than a cut connection.
            finish(e, status: e.status)
            closeNow()
            return
        }
        if let protocolError = error as? UpstreamProtocolError {
            respondLocally(e, status: 502, body: "502 bad gateway: \(protocolError.reason)\n", close: !e.requestComplete)
            return
        }
        // A pooled keep-alive connection the backend had already closed: once more on a fresh one.
        if upstream.uses > 1 && !e.bodyForwarded && e.connectAttempts < 3 {
            e.triedEndpoints.removeAll { $0 == upstream.key }
            connect(e)
            return
        }
        respondLocally(e, status: 502, body: "502 bad gateway: upstream closed the connection\n", close: !e.requestComplete)
    }

    /// After a 101: the 101 goes to the client as the backend sent it, and from here on both
    /// connections carry bytes both ways, untouched.
    private func startTunnel(_ e: Exchange, upstream: UpstreamConnection, head: ResponseHead) {
        e.upstream = nil
        e.requestComplete = true
        context.write(wrapOutboundOut(head.bytes), promise: nil)
        finish(e, status: 101)
        exchange = nil
        tunnel = upstream
        lastActivity = .now()
        // What the client sent after its upgrade request belongs to the new protocol.
        if let early = inbound {
            inbound = nil
            upstream.write(early)
            upstream.flush()
        }
        context.flush()
        setReading(true)
        upstream.setAutoRead(true)
    }

    // MARK: - Local responses and bookkeeping

    /// A parse error: the status, and the connection closes (what follows cannot be trusted).
    private func refuse(_ error: HeadError) {
        let head = RequestHead.placeholder
        let e = Exchange(head: head, host: "-", requestID: loop.requestID())
        exchange = e
        loop.metrics.inFlight += 1
        respondLocally(e, status: error.status, body: "\(error.status) \(error.reason)\n", close: true)
    }

    private func respondLocally(
        _ e: Exchange, status: Int, body: String, close: Bool, extraHeaders: [(String, String)] = []
    ) {
        guard downstreamOpen else {
            finish(e, status: status)
            return
        }
        e.local = true
        e.status = status
        e.pending.removeAll()
        let close = close || !e.head.keepAlive || e.head.isUpgrade
        var out = context.channel.allocator.buffer(capacity: 256 + body.utf8.count)
        out.writeString(
            "HTTP/1.1 \(status) \(HTTPResponseStatus(statusCode: status).reasonPhrase)\r\ncontent-length: \(body.utf8.count)\r\n")
        if !body.isEmpty { out.writeString("content-type: text/plain; charset=utf-8\r\n") }
        out.writeString("x-request-id: \(e.requestID)\r\n")
        for (name, value) in extraHeaders { out.writeString("\(name): \(value)\r\n") }
        if close {
            out.writeBytes(Self.connectionClose)
        } else if e.head.minorVersion == 0 {
            out.writeBytes(Self.connectionKeepAlive)
        }
        out.writeCRLF()
        if !e.head.isHEAD { out.writeString(body) }
        e.responseStarted = true
        e.bytesOut += out.readableBytes
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        finish(e, status: status)
        if close {
            closeAfterWrites()
            return
        }
        // The rest of the request body, if any, is read and dropped; then the next request.
        setReading(true)
        if e.requestComplete {
            exchange = nil
            if inbound != nil { process() }
        }
    }

    /// Stops reading and closes once what was written has gone out.
    private func closeAfterWrites() {
        closing = true
        inbound = nil
        let ctx = NIOLoopBound(context!, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer())).whenComplete { _ in ctx.value.close(promise: nil) }
    }

    private func closeNow() {
        closing = true
        inbound = nil
        context.close(promise: nil)
    }

    private func finish(_ e: Exchange, status: Int) {
        guard !e.finished else { return }
        e.finished = true
        loop.metrics.inFlight -= 1
        let routeName = e.route?.route.name
        loop.metrics.record(route: routeName ?? "", status: status)
        if loop.accessLog.format != .off {
            let duration = secondsSince(e.startTime)
            loop.accessLog.append(
                AccessLogRecord(
                    start: Date(timeIntervalSinceNow: -duration), client: clientAddress, method: e.head.methodString, host: e.host,
                    uri: e.head.targetString, status: status, route: routeName, upstream: e.endpoint?.description,
                    bytesIn: e.bytesIn, bytesOut: e.bytesOut, durationSeconds: duration,
                    upstreamSeconds: e.upstreamStart.map { secondsSince($0) }, requestID: e.requestID))
        }
    }

}

extension RequestHead {
    /// Stands in for a head that could not be parsed (access log, local response).
    static let placeholder: RequestHead = {
        let bytes = ByteBuffer(string: "- - HTTP/1.1\r\n\r\n")
        return RequestHead(
            bytes: bytes, method: 0..<1, target: 2..<3, minorVersion: 1, fields: [], connection: ConnectionOptions(), framing: .none,
            host: nil, pathStart: 2, isUpgrade: false, isHEAD: false)
    }()
}
