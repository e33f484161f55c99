import FoundationEssentials
import NIOCore
import PrefectWorkerCore

/// Opens an HTTP CONNECT tunnel through a proxy: sends `CONNECT host:port` when the connection is
/// up, reads the proxy's answer, and on a 2xx removes itself, so what is added after it (TLS, the
/// WebSocket upgrade) talks to the target through the tunnel. `established` fails on any other
/// answer.
final class ProxyTunnelHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let target: String
    private let credentials: String?
    private let promise: EventLoopPromise<Void>
    private var answer = ByteBuffer()

    var established: EventLoopFuture<Void> { promise.futureResult }

    init(targetHost: String, targetPort: Int, credentials: String?, eventLoop: any EventLoop) {
        target = targetHost.contains(":") ? "[\(targetHost)]:\(targetPort)" : "\(targetHost):\(targetPort)"
        self.credentials = credentials
        promise = eventLoop.makePromise()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { sendConnect(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        sendConnect(context: context)
        context.fireChannelActive()
    }

    private func sendConnect(context: ChannelHandlerContext) {
        var request = "CONNECT \(target) HTTP/1.1\r\nHost: \(target)\r\n"
        if let credentials { request += "Proxy-Authorization: Basic \(Data(credentials.utf8).base64EncodedString())\r\n" }
        request += "\r\n"
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(string: request)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        answer.writeBuffer(&bytes)
        let text = String(buffer: answer)
        guard let end = text.firstRange(of: "\r\n\r\n") else {
            if answer.readableBytes > 16 * 1024 { fail(context: context, "an answer to CONNECT without an end") }
            return
        }
        let statusLine = text[..<end.lowerBound].split(separator: "\r\n").first.map(String.init) ?? ""
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let status = Int(parts[1]), (200..<300).contains(status) else {
            fail(context: context, "the proxy answered CONNECT \(target) with '\(statusLine)'")
            return
        }
        promise.succeed()
        context.pipeline.syncOperations.removeHandler(self, promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(EventStreamError.proxy("the proxy closed the connection before the tunnel to \(target) was open"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }

    private func fail(context: ChannelHandlerContext, _ reason: String) {
        promise.fail(EventStreamError.proxy(reason))
        context.close(promise: nil)
    }
}
