import DataPlane
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import RouteModel

/// The admin API on its own port (loopback by default): revision, health, routes, metrics, sync, webhooks.
enum AdminServer {
    static func bind(host: String, port: Int, agent: GatewayAgent, group: EventLoopGroup) async throws -> Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(AdminHandler(agent: agent))
                }
            }
            .bind(host: host, port: port)
            .get()
    }

    struct Response: Sendable {
        var status: HTTPResponseStatus
        var contentType: String
        var body: String
    }

    /// A request as the handlers see it: the body is kept up to the webhook cap, the rest is discarded.
    struct Request: Sendable {
        var method: HTTPMethod
        var path: String
        var headers: [String: String] = [:]
        var body: [UInt8] = []
        var bodyTooLarge = false
    }

    static func handle(method: HTTPMethod, path: String, agent: GatewayAgent) async -> Response {
        await handle(Request(method: method, path: path), agent: agent)
    }

    static func handle(_ request: Request, agent: GatewayAgent) async -> Response {
        let (method, path) = (request.method, request.path)
        if path.hasPrefix("/hooks/") { return webhook(request, agent: agent) }
        switch (method, path) {
        case (.GET, "/healthz"):
            return Response(status: .ok, contentType: "text/plain", body: "ok\n")
        case (.GET, "/readyz"):
            let live = agent.dataPlane.store.current != nil
            return Response(
                status: live ? .ok : .serviceUnavailable, contentType: "text/plain",
                body: live ? "ready\n" : "no revision is live yet\n")
        case (.GET, "/revision"):
            return Response(status: .ok, contentType: "application/json", body: json(agent.status))
        case (.GET, "/routes"):
            guard let snapshot = agent.dataPlane.store.current else {
                return Response(status: .serviceUnavailable, contentType: "text/plain", body: "no revision is live yet\n")
            }
            return Response(status: .ok, contentType: "application/json", body: snapshot.table.canonicalJSON())
        case (.GET, "/metrics"):
            let metrics = await agent.dataPlane.metrics()
            return Response(
                status: .ok, contentType: "text/plain; version=0.0.4",
                body: PrometheusText.render(
                    metrics: metrics, status: agent.status, counters: agent.counters, webhooks: agent.webhooks.requestCounts))
        case (.POST, "/sync"):
            agent.requestSync(.sync)
            return Response(status: .accepted, contentType: "application/json", body: "{\"queued\":true}\n")
        case (_, "/healthz"), (_, "/readyz"), (_, "/revision"), (_, "/routes"), (_, "/metrics"), (_, "/sync"):
            return Response(status: .methodNotAllowed, contentType: "text/plain", body: "method not allowed\n")
        default:
            return Response(status: .notFound, contentType: "text/plain", body: "not found\n")
        }
    }

    /// `POST /hooks/<provider>`: verify, decide, and queue a sync for a push to the followed branch.
    static func webhook(_ request: Request, agent: GatewayAgent) -> Response {
        guard let provider = WebhookProvider(rawValue: String(request.path.dropFirst("/hooks/".count))) else {
            return Response(status: .notFound, contentType: "text/plain", body: "no such webhook provider\n")
        }
        guard request.method == .POST else {
            return Response(status: .methodNotAllowed, contentType: "text/plain", body: "method not allowed\n")
        }
        let decision = agent.webhooks.receive(
            provider: provider, WebhookRequest(headers: request.headers, body: request.body, tooLarge: request.bodyTooLarge))
        if let trigger = decision.trigger { agent.requestSync(trigger) }
        let level: Logger.Level = decision.result == .unauthorized ? .warning : .info
        agent.logger.log(
            level: level, "webhook",
            metadata: ["provider": "\(provider.rawValue)", "result": "\(decision.result.rawValue)", "reason": "\(decision.reason)"])
        return Response(
            status: HTTPResponseStatus(statusCode: decision.status), contentType: "application/json", body: decision.body)
    }

    static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return (try? String(decoding: encoder.encode(value), as: UTF8.self)).map { $0 + "\n" } ?? "{}\n"
    }
}

final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let agent: GatewayAgent
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var bodyTooLarge = false
    private var discarded = 0

    init(agent: GatewayAgent) { self.agent = agent }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let cap = agent.webhooks.maxBodyBytes
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body = []
            discarded = 0
            // A declared length over the cap is refused without keeping any of the body.
            bodyTooLarge = h.headers.first(name: "content-length").flatMap(Int.init).map { $0 > cap } ?? false
        case .body(let chunk):
            if !bodyTooLarge && body.count + chunk.readableBytes <= cap {
                body.append(contentsOf: chunk.readableBytesView)
            } else {
                bodyTooLarge = true
                body = []
                discarded += chunk.readableBytes
                // Reading a huge body only to refuse it is work an attacker chooses; past a bound, hang up.
                if discarded > 16 * cap { context.close(promise: nil) }
            }
        case .end:
            guard let head else { return }
            self.head = nil
            let path = String(head.uri.split(separator: "?", maxSplits: 1).first ?? "/")
            var headers: [String: String] = [:]
            for (name, value) in head.headers where headers[name.lowercased()] == nil { headers[name.lowercased()] = value }
            let request = AdminServer.Request(
                method: head.method, path: path, headers: headers, body: body, bodyTooLarge: bodyTooLarge)
            let keepAlive = head.isKeepAlive && !bodyTooLarge
            body = []
            let promise = context.eventLoop.makePromise(of: AdminServer.Response.self)
            let agent = self.agent
            promise.completeWithTask { await AdminServer.handle(request, agent: agent) }
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            promise.futureResult.whenSuccess { response in
                let (this, context) = bound.value
                this.write(response, keepAlive: keepAlive, context: context)
            }
        }
    }

    private func write(_ response: AdminServer.Response, keepAlive: Bool, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: response.contentType)
        headers.add(name: "content-length", value: String(response.body.utf8.count))
        if !keepAlive { headers.add(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: response.status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: response.body)))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let ctx = NIOLoopBound(context, eventLoop: context.eventLoop)
            done.whenComplete { _ in ctx.value.close(promise: nil) }
        }
    }
}
