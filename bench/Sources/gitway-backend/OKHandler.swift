import NIOCore
import NIOHTTP1

/// Mode `ok`, the benchmark backend: every request gets 200 "ok" with a content-length, keep-alive unless the
/// client asked otherwise. Request bodies are discarded as they arrive. Responses are written without a flush;
/// one flush per read batch (`channelReadComplete`) covers every response produced by that batch.
final class OKHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private static let body = ByteBuffer(string: "ok")
    private static let headers: HTTPHeaders = ["content-type": "text/plain", "content-length": "2"]
    private static let closeHeaders: HTTPHeaders = [
        "content-type": "text/plain", "content-length": "2", "connection": "close",
    ]

    private var keepAlive = true
    private var version = HTTPVersion.http1_1

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            keepAlive = head.isKeepAlive
            version = head.version
        case .body:
            break
        case .end:
            var headers = keepAlive ? Self.headers : Self.closeHeaders
            if keepAlive && version.major == 1 && version.minor == 0 { headers.add(name: "connection", value: "keep-alive") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: .ok, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(Self.body))), promise: nil)
            if keepAlive {
                context.write(wrapOutboundOut(.end(nil)), promise: nil)
            } else {
                context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                    context.close(promise: nil)
                }
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
