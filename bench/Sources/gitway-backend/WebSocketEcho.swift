import NIOCore
import NIOHTTP1
import NIOWebSocket

/// After a WebSocket upgrade on `/ws`: echoes every data frame back. Text messages get "NAME: " in front (on the
/// first frame of a fragmented message); binary messages come back unchanged; fragmentation is preserved.
/// Pings are answered with pongs; a close frame is answered with a close frame carrying the same code, then the
/// connection is closed.
final class WebSocketEcho: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let prefix: ByteBuffer
    private var closeSent = false

    init(name: String) { prefix = ByteBuffer(string: name + ": ") }

    /// For `configureHTTPServerPipeline(withServerUpgrade:)`: upgrades on `/ws` only (on other paths the request
    /// falls through to the HTTP handler as usual), then replaces the HTTP handler with a `WebSocketEcho`.
    static func upgradeConfiguration(name: String) -> NIOHTTPServerUpgradeConfiguration {
        let upgrader = NIOWebSocketServerUpgrader(
            maxFrameSize: 1 << 20,
            shouldUpgrade: { channel, head in
                let path = head.uri.split(separator: "?", maxSplits: 1).first ?? ""
                return channel.eventLoop.makeSucceededFuture(path == "/ws" ? HTTPHeaders() : nil)
            },
            upgradePipelineHandler: { channel, _ in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(WebSocketEcho(name: name))
                }
            })
        return (
            upgraders: [upgrader],
            completionHandler: { context in
                // The HTTP handler would otherwise see WebSocket frames.
                context.pipeline.syncOperations.removeHandler(name: EchoHandler.handlerName, promise: nil)
            }
        )
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            var payload = prefix
            var data = frame.unmaskedData
            payload.writeBuffer(&data)
            send(context: context, WebSocketFrame(fin: frame.fin, opcode: .text, data: payload))
        case .binary, .continuation:
            send(context: context, WebSocketFrame(fin: frame.fin, opcode: frame.opcode, data: frame.unmaskedData))
        case .ping:
            send(context: context, WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData))
        case .connectionClose:
            var data = frame.unmaskedData
            let code = data.readWebSocketErrorCode() ?? .normalClosure
            if closeSent {
                context.close(promise: nil)
                return
            }
            closeSent = true
            var reply = context.channel.allocator.buffer(capacity: 2)
            reply.write(webSocketErrorCode: code)
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: reply)))
                .assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        default:
            break  // pong, reserved opcodes
        }
    }

    private func send(context: ChannelHandlerContext, _ frame: WebSocketFrame) {
        guard !closeSent else { return }
        context.write(wrapOutboundOut(frame), promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
