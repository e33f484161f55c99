import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The supervisor side of the Prefect engine's loopback control channel (docs/prefect-worker-protocol.md §5.5): the
/// worker listens on 127.0.0.1, gives each engine child a port and a one-time token
/// (`PREFECT__CONTROL_PORT`, `PREFECT__CONTROL_TOKEN`); the engine connects once it runs the flow
/// and sends `<token>\n`. To cancel, the worker writes `c` and waits up to a second for the ack
/// `a`; the engine then treats the following SIGTERM as a cancellation: it records CANCELLED itself
/// and runs the flow's `on_cancellation` hooks. Protocol version 1: the engine's 5-byte hello is
/// ignored, so no outcome receipts are negotiated. Served on the NIO event loops: no thread of its
/// own, no blocking wait.
final class EngineControlChannel: Sendable {
    private struct State {
        var port: UInt16?
        var pendingTokens: [String: String] = [:]  // token -> flow run id
        var connections: [String: ControlConnection] = [:]  // flow run id -> authenticated connection
    }

    private let state = Mutex(State())
    private let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    /// Starts listening; false (and cancellation falls back to signals) when the socket cannot be made.
    func start() async -> Bool {
        do {
            let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 64)
                .childChannelInitializer { [self] channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ControlConnectionHandler(owner: self))
                    }
                }
                .bind(host: "127.0.0.1", port: 0)
                .get()
            guard let port = server.localAddress?.port else { return false }
            state.withLock { $0.port = UInt16(port) }
            return true
        } catch {
            logger.debug("control channel could not listen: \(error)")
            return false
        }
    }

    /// A token for a run about to be started; the environment variables to give its engine.
    func register(flowRunId: String) -> [String: String] {
        let token = (0..<16).map { _ in
            let byte = UInt8.random(in: 0...255)
            return (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }.joined()
        guard let port = state.withLock({ state -> UInt16? in
            guard let port = state.port else { return nil }
            state.pendingTokens[token] = flowRunId
            return port
        }) else { return [:] }
        return ["PREFECT__CONTROL_PORT": String(port), "PREFECT__CONTROL_TOKEN": token]
    }

    func unregister(flowRunId: String) {
        let connection = state.withLock { state in
            state.pendingTokens = state.pendingTokens.filter { $0.value != flowRunId }
            return state.connections.removeValue(forKey: flowRunId)
        }
        connection?.close()
    }

    /// Whether the run's engine has connected and authenticated.
    func isConnected(flowRunId: String) -> Bool {
        state.withLock { $0.connections[flowRunId] != nil }
    }

    /// Sends the cancel intent; true when the engine acknowledged within `timeout` seconds, false
    /// when it is not connected or did not answer.
    func sendCancelIntent(flowRunId: String, timeout: Double = 1) async -> Bool {
        guard let connection = state.withLock({ $0.connections[flowRunId] }) else { return false }
        return await connection.sendIntent(UInt8(ascii: "c"), timeout: timeout)
    }

    /// Binds an authenticated connection to its run; nil for a token nobody was given.
    fileprivate func authenticated(token: String, channel: any Channel) -> ControlConnection? {
        let (connection, previous): (ControlConnection?, ControlConnection?) = state.withLock { state in
            guard let flowRunId = state.pendingTokens.removeValue(forKey: token) else { return (nil, nil) }
            let connection = ControlConnection(flowRunId: flowRunId, channel: channel)
            return (connection, state.connections.updateValue(connection, forKey: flowRunId))
        }
        previous?.close()
        return connection
    }

    fileprivate func closed(_ connection: ControlConnection) {
        state.withLock { state in
            if state.connections[connection.flowRunId] === connection { state.connections.removeValue(forKey: connection.flowRunId) }
        }
        connection.answered(false)
    }
}

/// One engine's authenticated connection, and the intent waiting for its ack.
private final class ControlConnection: Sendable {
    let flowRunId: String
    private let channel: any Channel
    private let waiting = Mutex<CheckedContinuation<Bool, Never>?>(nil)

    init(flowRunId: String, channel: any Channel) {
        self.flowRunId = flowRunId
        self.channel = channel
    }

    func sendIntent(_ intent: UInt8, timeout: Double) async -> Bool {
        await withCheckedContinuation { continuation in
            let earlier = waiting.withLock { waiting in
                defer { waiting = continuation }
                return waiting
            }
            earlier?.resume(returning: false)
            channel.writeAndFlush(ByteBuffer(bytes: [intent])).whenFailure { [self] _ in answered(false) }
            channel.eventLoop.scheduleTask(in: .milliseconds(Int64(timeout * 1000))) { [self] in answered(false) }
        }
    }

    /// Ends the wait for an ack (if one is waited for): acknowledged, or not.
    func answered(_ acknowledged: Bool) {
        let continuation = waiting.withLock { waiting in
            defer { waiting = nil }
            return waiting
        }
        continuation?.resume(returning: acknowledged)
    }

    func close() {
        channel.close(promise: nil)
    }
}

/// Reads `<token>\n` within 5 s and binds the connection to its run (anything else is closed);
/// from then on an `a` acknowledges the intent that was sent. The engine's negotiation hello
/// (00 'P' 'F' 02 01) holds no `a` and is ignored.
private final class ControlConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let owner: EngineControlChannel
    private var line: [UInt8] = []
    private var connection: ControlConnection?
    private var authenticationDeadline: Scheduled<Void>?

    init(owner: EngineControlChannel) {
        self.owner = owner
    }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        authenticationDeadline = context.eventLoop.scheduleTask(in: .seconds(5)) { channel.close(promise: nil) }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        for byte in bytes {
            if let connection {
                if byte == UInt8(ascii: "a") { connection.answered(true) }
                continue
            }
            if byte == UInt8(ascii: "\n") || line.count >= 128 {
                authenticate(context: context)
                if connection == nil { return }
                continue
            }
            line.append(byte)
        }
    }

    private func authenticate(context: ChannelHandlerContext) {
        // A token is hex: blanks around it (a `\r`, spaces) are not part of it.
        let token = String(decoding: line.filter { ![9, 13, 32].contains($0) }, as: UTF8.self)
        line = []
        guard let bound = owner.authenticated(token: token, channel: context.channel) else {
            context.close(promise: nil)
            return
        }
        connection = bound
        authenticationDeadline?.cancel()
    }

    func channelInactive(context: ChannelHandlerContext) {
        authenticationDeadline?.cancel()
        if let connection { owner.closed(connection) }
        context.fireChannelInactive()
    }
}
