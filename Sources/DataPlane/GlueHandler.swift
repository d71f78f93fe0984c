import NIOCore

/// One side of a byte tunnel between two channels of the same event loop (after a protocol
/// upgrade): what one channel reads, the other writes, with backpressure both ways.
///
/// Modelled on swift-nio-examples' connect-proxy `GlueHandler`: a read on one side is requested only
/// while the other side is writable; a flush follows each read batch; EOF on one side half-closes
/// the other when the channel allows half-closure, and a closed side closes the other once what it
/// wrote so far has gone out. A tunnel in which neither side reads anything for the idle timeout is
/// closed (like nginx's `proxy_read_timeout` for WebSockets).
final class GlueHandler: ChannelDuplexHandler {
    typealias InboundIn = NIOAny
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    /// When either side last read something; shared by the pair.
    final class Activity {
        var last = NIODeadline.now()
    }

    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private let activity: Activity
    /// On one side only: closes the tunnel when neither side has read anything for this long.
    private let idleTimeout: TimeAmount?
    private var idleTimer: Scheduled<Void>?
    /// Runs once when this side's channel goes inactive (connection accounting).
    var onInactive: (() -> Void)?

    private init(activity: Activity, idleTimeout: TimeAmount?) {
        self.activity = activity
        self.idleTimeout = idleTimeout
    }

    /// Two partners; the first one watches the pair's idleness.
    static func matchedPair(idleTimeout: TimeAmount) -> (GlueHandler, GlueHandler) {
        let activity = Activity()
        let first = GlueHandler(activity: activity, idleTimeout: idleTimeout)
        let second = GlueHandler(activity: activity, idleTimeout: nil)
        first.partner = second
        second.partner = first
        return (first, second)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if let idleTimeout { armIdleTimer(context: context, deadline: activity.last + idleTimeout) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = nil
        self.context = nil
        self.partner = nil
    }

    private func armIdleTimer(context: ChannelHandlerContext, deadline: NIODeadline) {
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            guard let idleTimeout = self.idleTimeout else { return }
            let due = self.activity.last + idleTimeout
            if due <= .now() {
                context.close(promise: nil)
            } else {
                self.armIdleTimer(context: context, deadline: due)
            }
        }
    }

    // MARK: - Called by the partner

    private func partnerWrite(_ data: NIOAny) {
        context?.write(data, promise: nil)
    }

    private func partnerFlush() {
        context?.flush()
    }

    private func partnerWriteEOF() {
        context?.close(mode: .output, promise: nil)
    }

    /// Closes after everything written so far has gone out (an empty write completes in order).
    private func partnerCloseFull() {
        guard let context, context.channel.isActive else { return }
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(capacity: 0))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    private func partnerBecameWritable() {
        if pendingRead {
            pendingRead = false
            context?.read()
        }
    }

    private var partnerWritable: Bool {
        context?.channel.isWritable ?? false
    }

    // MARK: - Channel events

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partner?.partnerWrite(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        activity.last = .now()
        partner?.partnerFlush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = nil
        partner?.partnerCloseFull()
        if let onInactive {
            self.onInactive = nil
            onInactive()
        }
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            partner?.partnerWriteEOF()
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            partner?.partnerBecameWritable()
        }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if partner?.partnerWritable ?? false {
            context.read()
        } else {
            pendingRead = true
        }
    }
}
