import NIOCore
import NIOHTTP1
import NIOWebSocket

/// Mode `echo` (the default), for end-to-end tests of a proxy. For every request it answers 200 with a JSON
/// report of what arrived, and the header `x-backend-name: NAME`:
///
///     {"name": NAME, "method": "GET", "uri": "/a?b", "headers": [["host", "x"], ...], "bodyBytes": 0,
///      "bodySHA256": "e3b0…", "remote": "127.0.0.1:51234"}
///
/// Request bodies are streamed: counted and hashed chunk by chunk as they arrive, never buffered, so an upload of
/// any size runs in constant memory. Special paths:
/// - `/status/NNN` – the same report with status NNN (no body for 204 and 304)
/// - `/delay/MS`   – the report after MS milliseconds (a timer on the event loop; nothing blocks)
/// - `/stream/N`   – N KiB of text, chunked, written 1 KiB at a time and only while the channel is writable
/// - `/close`      – the report with `connection: close`, then the connection is closed
/// - `/hang`       – the request is read but never answered
/// - `/ws`         – WebSocket upgrade (see `WebSocketEcho`); handled by the upgrader before this handler. An
///                   upgrade request on any other path is answered with the report and `connection: close`.
final class EchoHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    static let handlerName = "gitway-echo"

    private let name: String
    private var head: HTTPRequestHead?
    private var bodyBytes = 0
    private var hasher = SHA256()
    private var streamRemaining = 0  // KiB still to write for /stream/N; > 0 only while streaming
    private var delayed: Scheduled<Void>?

    private static let kibChunk: ByteBuffer = {
        var line = String(repeating: "0123456789abcdef", count: 64)
        line.removeLast()
        return ByteBuffer(string: line + "\n")
    }()

    init(name: String) { self.name = name }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            bodyBytes = 0
            hasher = SHA256()
            if head.headers["expect"].contains(where: { $0.lowercased() == "100-continue" }) {
                let cont = HTTPResponseHead(version: head.version, status: .continue)
                context.writeAndFlush(wrapOutboundOut(.head(cont)), promise: nil)
            }
        case .body(let buffer):
            bodyBytes += buffer.readableBytes
            buffer.withUnsafeReadableBytes { hasher.update($0) }
        case .end:
            guard let head else { return }
            route(context: context, head: head)
        }
    }

    private func route(context: ChannelHandlerContext, head: HTTPRequestHead) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        switch (parts.first, parts.count) {
        case ("status", 2):
            guard let code = Int(parts[1]), (200...599).contains(code) else {
                return respond(context: context, head: head, status: .badRequest)
            }
            respond(context: context, head: head, status: HTTPResponseStatus(statusCode: code))
        case ("delay", 2):
            guard let ms = Int64(parts[1]), ms >= 0 else { return respond(context: context, head: head, status: .badRequest) }
            delayed = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(ms)) {
                self.delayed = nil
                self.respond(context: context, head: head, status: .ok)
            }
        case ("stream", 2):
            guard let kib = Int(parts[1]), kib >= 0 else { return respond(context: context, head: head, status: .badRequest) }
            var headers = baseHeaders(head)
            headers.add(name: "content-type", value: "text/plain")
            headers.add(name: "transfer-encoding", value: "chunked")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))), promise: nil)
            streamRemaining = kib
            pump(context: context)
        case ("close", 1):
            respond(context: context, head: head, status: .ok, close: true)
        case ("hang", 1):
            break
        default:
            respond(context: context, head: head, status: .ok)
        }
    }

    /// Writes 1 KiB chunks while the channel is writable; `channelWritabilityChanged` resumes it.
    private func pump(context: ChannelHandlerContext) {
        while streamRemaining > 0 && context.channel.isWritable {
            context.write(wrapOutboundOut(.body(.byteBuffer(Self.kibChunk))), promise: nil)
            streamRemaining -= 1
        }
        if streamRemaining == 0, let head {
            finish(context: context, keepAlive: Self.keepAlive(head))
        } else {
            context.flush()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if streamRemaining > 0 && context.channel.isWritable { pump(context: context) }
        context.fireChannelWritabilityChanged()
    }

    /// Whether the connection stays open after this request. Not after a refused upgrade request (one that reached
    /// this handler): the HTTP decoder parses nothing after a request asking for an upgrade.
    private static func keepAlive(_ head: HTTPRequestHead) -> Bool {
        let upgrade =
            head.headers.contains(name: "upgrade")
            && head.headers[canonicalForm: "connection"].contains { $0.lowercased() == "upgrade" }
        return head.isKeepAlive && !upgrade
    }

    private func baseHeaders(_ head: HTTPRequestHead, close: Bool = false) -> HTTPHeaders {
        var headers: HTTPHeaders = ["x-backend-name": name]
        if close || !Self.keepAlive(head) {
            headers.add(name: "connection", value: "close")
        } else if head.version == .http1_0 {
            headers.add(name: "connection", value: "keep-alive")
        }
        return headers
    }

    private func respond(context: ChannelHandlerContext, head: HTTPRequestHead, status: HTTPResponseStatus, close: Bool = false) {
        var headers = baseHeaders(head, close: close)
        let hasBody = status != .noContent && status != .notModified
        var body = ByteBuffer()
        if hasBody {
            body = ByteBuffer(string: report(context: context, head: head))
            headers.add(name: "content-type", value: "application/json")
            headers.add(name: "content-length", value: String(body.readableBytes))
        }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        if hasBody && head.method != .HEAD { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        finish(context: context, keepAlive: Self.keepAlive(head) && !close)
    }

    private func finish(context: ChannelHandlerContext, keepAlive: Bool) {
        self.head = nil
        if keepAlive { armUpgrade(context: context) }
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    /// NIO's `HTTPServerUpgradeHandler` considers only the first request of a connection and then leaves the
    /// pipeline. So that `/ws` works on any request of a keep-alive connection (a proxy reuses pooled upstream
    /// connections), a fresh one goes back in front of this handler before each response ends, which is before
    /// the pipelining handler lets the next request through.
    private func armUpgrade(context: ChannelHandlerContext) {
        let sync = context.pipeline.syncOperations
        guard (try? sync.handler(type: HTTPServerUpgradeHandler.self)) == nil,
            let encoder = try? sync.handler(type: HTTPResponseEncoder.self),
            let decoder = try? sync.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
        else { return }
        var httpHandlers: [any RemovableChannelHandler] = [decoder]
        if let handler = try? sync.handler(type: HTTPServerPipelineHandler.self) { httpHandlers.append(handler) }
        if let handler = try? sync.handler(type: NIOHTTPResponseHeadersValidator.self) { httpHandlers.append(handler) }
        if let handler = try? sync.handler(type: HTTPServerProtocolErrorHandler.self) { httpHandlers.append(handler) }
        let upgrade = WebSocketEcho.upgradeConfiguration(name: name)
        let handler = HTTPServerUpgradeHandler(
            upgraders: upgrade.upgraders, httpEncoder: encoder, extraHTTPHandlers: httpHandlers,
            upgradeCompletionHandler: upgrade.completionHandler)
        try? sync.addHandler(handler, position: .before(self))
    }

    private func report(context: ChannelHandlerContext, head: HTTPRequestHead) -> String {
        var json = "{\"name\":" + jsonString(name)
        json += ",\"method\":" + jsonString(head.method.rawValue)
        json += ",\"uri\":" + jsonString(head.uri)
        json += ",\"headers\":["
        json += head.headers.map { "[" + jsonString($0.name) + "," + jsonString($0.value) + "]" }.joined(separator: ",")
        json += "],\"bodyBytes\":\(bodyBytes)"
        var finished = SHA256()
        swap(&finished, &hasher)
        json += ",\"bodySHA256\":\"" + finished.hexDigest() + "\""
        json += ",\"remote\":" + jsonString(Self.describe(context.remoteAddress))
        return json + "}\n"
    }

    static func describe(_ address: SocketAddress?) -> String {
        guard let address, let ip = address.ipAddress, let port = address.port else { return address.map { "\($0)" } ?? "" }
        if case .v6 = address { return "[\(ip)]:\(port)" }
        return "\(ip):\(port)"
    }

    func channelInactive(context: ChannelHandlerContext) {
        delayed?.cancel()
        delayed = nil
        streamRemaining = 0
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A refused WebSocket upgrade (not /ws) is reported here, then the request continues as plain HTTP.
        if error is NIOWebSocketUpgradeError { return }
        context.close(promise: nil)
    }
}

func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
