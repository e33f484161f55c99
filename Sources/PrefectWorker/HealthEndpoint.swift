import FoundationEssentials
import NIOCore
import NIOHTTP1
import NIOPosix
import PrefectWorkerCore

/// One answer of the worker's web server.
struct WebAnswer: Sendable {
    var status: Int
    var contentType: String
    var body: String
}

/// The worker's HTTP server of `--with-healthcheck` / `--with-metrics`
/// (`PREFECT_WORKER_WEBSERVER_HOST`/`_PORT`): every request is answered by `answer(method, uri)`.
final class HealthEndpoint: Sendable {
    private let channel: any Channel

    private init(channel: any Channel) {
        self.channel = channel
    }

    var port: Int? { channel.localAddress?.port }

    /// Listens on `host:port`; throws a `SettingsError` naming the settings when it cannot.
    static func start(
        host: String, port: Int, answer: @escaping @Sendable (_ method: String, _ uri: String) -> WebAnswer
    ) async throws -> HealthEndpoint {
        do {
            let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(HealthHandler(answer: answer))
                    }
                }
                .bind(host: host, port: port)
                .get()
            return HealthEndpoint(channel: channel)
        } catch {
            throw SettingsError(
                setting: "PREFECT_WORKER_WEBSERVER_HOST/PREFECT_WORKER_WEBSERVER_PORT",
                problem: "cannot listen on \(host):\(port) for --with-healthcheck/--with-metrics (\(error)); choose a free port or address")
        }
    }

    func stop() async {
        try? await channel.close()
    }
}

/// One HTTP/1.1 connection: every request is answered with the report for its path.
private final class HealthHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let answer: @Sendable (String, String) -> WebAnswer
    private var head: HTTPRequestHead?

    init(answer: @escaping @Sendable (String, String) -> WebAnswer) {
        self.answer = answer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            guard let head else { return }
            self.head = nil
            let answer = self.answer(head.method.rawValue, head.uri)
            let body = ByteBuffer(string: answer.body)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: answer.contentType)
            headers.add(name: "Content-Length", value: "\(body.readableBytes)")
            headers.add(name: "Cache-Control", value: "no-store")
            let keepAlive = head.isKeepAlive
            if !keepAlive { headers.add(name: "Connection", value: "close") }
            let status = HTTPResponseStatus(statusCode: answer.status)
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
            if head.method != .HEAD { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
            let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            if !keepAlive {
                let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
                done.whenComplete { _ in loopBound.value.close(promise: nil) }
            }
        }
    }
}
