import Logging
import NIOCore
import NIOPosix
import PrefectWorkerCore
import Synchronization

/// The supervisor side of the Prefect engine's loopback control channel, version 2 of Prefect's
/// attempt-control protocol (docs/prefect-worker-protocol.md §5.5; the bytes are
/// `AttemptControlSession`'s). The worker listens on 127.0.0.1 and gives each engine child a port
/// and a one-time token (`PREFECT__CONTROL_PORT`, `PREFECT__CONTROL_TOKEN`); the engine connects
/// once it runs the flow and sends `<token>\n`, then its hello, which is answered with version 2
/// and receipts (a version-1 engine sends none and is served as before).
///
/// - An intent (`c`ancel, `r`eschedule, `q` relinquish) is written and its ack `a` awaited up to
///   a second; the engine then treats the SIGTERM that follows accordingly.
/// - A receipt (the final state the engine reported, or that the server aborted its proposal) is
///   acknowledged with `02` and handed to the run's supervision, so the worker need not read the
///   run's state after the exit.
///
/// The first of an acknowledged intent and a receipt is the attempt's conclusion, and nothing
/// replaces it. Served on the NIO event loops: no thread of its own, no blocking wait.
final class EngineControlChannel: Sendable {
    /// How an intent was answered.
    enum IntentAnswer: Equatable, Sendable {
        case acknowledged
        /// The engine had already sent its receipt: it concluded by itself and is exiting.
        case alreadyConcluded
        /// Not connected, not answered within the timeout, or the connection ended.
        case notAcknowledged
    }

    fileprivate struct Registration {
        var token: String
        var onConclusion: @Sendable (AttemptConclusion) -> Void
        var connection: ControlConnection?
        var conclusion: AttemptConclusion?
    }

    private struct State {
        var port: UInt16?
        var pendingTokens: [String: String] = [:]  // token -> flow run id
        var registrations: [String: Registration] = [:]  // flow run id -> its attempt
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
    /// `onConclusion` is told the attempt's conclusion once, when it is recorded.
    func register(flowRunId: String, onConclusion: @escaping @Sendable (AttemptConclusion) -> Void = { _ in }) -> [String: String] {
        let token = (0..<16).map { _ in
            let byte = UInt8.random(in: 0...255)
            return (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }.joined()
        let (port, previous) = state.withLock { state -> (UInt16?, ControlConnection?) in
            guard let port = state.port else { return (nil, nil) }
            let previous = state.registrations[flowRunId]
            if let previous { state.pendingTokens.removeValue(forKey: previous.token) }
            state.pendingTokens[token] = flowRunId
            state.registrations[flowRunId] = Registration(token: token, onConclusion: onConclusion)
            return (port, previous?.connection)
        }
        previous?.close()
        guard let port else { return [:] }
        return ["PREFECT__CONTROL_PORT": String(port), "PREFECT__CONTROL_TOKEN": token]
    }

    func unregister(flowRunId: String) {
        let connection = state.withLock { state -> ControlConnection? in
            guard let registration = state.registrations.removeValue(forKey: flowRunId) else { return nil }
            state.pendingTokens.removeValue(forKey: registration.token)
            return registration.connection
        }
        connection?.close()
    }

    /// Whether the run's engine has connected and authenticated.
    func isConnected(flowRunId: String) -> Bool {
        state.withLock { $0.registrations[flowRunId]?.connection != nil }
    }

    /// The attempt's conclusion, if one was recorded.
    func conclusion(flowRunId: String) -> AttemptConclusion? {
        state.withLock { $0.registrations[flowRunId]?.conclusion }
    }

    /// Sends `intent` and waits up to `timeout` seconds for the engine's ack.
    func sendIntent(_ intent: ControlIntent, flowRunId: String, timeout: Double = 1) async -> IntentAnswer {
        let (connection, concluded) = state.withLock { state in
            (state.registrations[flowRunId]?.connection, state.registrations[flowRunId]?.conclusion != nil)
        }
        if concluded { return .alreadyConcluded }
        guard let connection else { return .notAcknowledged }
        return await connection.sendIntent(intent, timeout: timeout)
    }

    // MARK: - From the connections

    /// Binds an authenticated connection to its run; nil for a token nobody was given (each
    /// token is taken once, so a replay cannot replace the engine's connection).
    fileprivate func authenticated(token: String, channel: any Channel) -> ControlConnection? {
        let (connection, previous): (ControlConnection?, ControlConnection?) = state.withLock { state in
            guard let flowRunId = state.pendingTokens.removeValue(forKey: token), state.registrations[flowRunId] != nil else {
                return (nil, nil)
            }
            let connection = ControlConnection(flowRunId: flowRunId, channel: channel, owner: self)
            let previous = state.registrations[flowRunId]?.connection
            state.registrations[flowRunId]?.connection = connection
            return (connection, previous)
        }
        previous?.close()
        return connection
    }

    /// Records the attempt's conclusion unless it has one; true when this one is it.
    fileprivate func conclude(_ flowRunId: String, _ conclusion: AttemptConclusion) -> Bool {
        let recorded = state.withLock { state -> (@Sendable (AttemptConclusion) -> Void)? in
            guard state.registrations[flowRunId] != nil, state.registrations[flowRunId]?.conclusion == nil else { return nil }
            state.registrations[flowRunId]?.conclusion = conclusion
            return state.registrations[flowRunId]?.onConclusion
        }
        guard let recorded else { return false }
        logger.debug("control channel: \(conclusion)", metadata: ["flow_run_id": "\(flowRunId)"])
        recorded(conclusion)
        return true
    }

    /// The answer to an intent that got no ack: a receipt may have won meanwhile.
    fileprivate func unacknowledged(_ flowRunId: String) -> IntentAnswer {
        state.withLock { $0.registrations[flowRunId]?.conclusion != nil } ? .alreadyConcluded : .notAcknowledged
    }

    fileprivate func closed(_ connection: ControlConnection) {
        state.withLock { state in
            if state.registrations[connection.flowRunId]?.connection === connection {
                state.registrations[connection.flowRunId]?.connection = nil
            }
        }
        connection.answer(unacknowledged(connection.flowRunId))
    }
}

/// One engine's authenticated connection, and the intent waiting for its ack.
private final class ControlConnection: Sendable {
    let flowRunId: String
    private let channel: any Channel
    private let owner: EngineControlChannel
    private struct Waiting {
        var intent: ControlIntent?
        var continuation: CheckedContinuation<EngineControlChannel.IntentAnswer, Never>?
    }
    private let waiting = Mutex(Waiting())

    init(flowRunId: String, channel: any Channel, owner: EngineControlChannel) {
        self.flowRunId = flowRunId
        self.channel = channel
        self.owner = owner
    }

    func sendIntent(_ intent: ControlIntent, timeout: Double) async -> EngineControlChannel.IntentAnswer {
        await withCheckedContinuation { continuation in
            let earlier = waiting.withLock { waiting in
                defer { waiting = Waiting(intent: intent, continuation: continuation) }
                return waiting.continuation
            }
            earlier?.resume(returning: .notAcknowledged)
            channel.writeAndFlush(ByteBuffer(bytes: [intent.byte])).whenFailure { [self] _ in answer(.notAcknowledged) }
            channel.eventLoop.scheduleTask(in: .milliseconds(Int64(timeout * 1000))) { [self] in
                answer(owner.unacknowledged(flowRunId))
            }
        }
    }

    /// The engine acknowledged: the intent that was sent is the attempt's conclusion (unless a
    /// receipt came first).
    func acknowledged() {
        guard let intent = waiting.withLock({ $0.intent }) else { return }
        answer(owner.conclude(flowRunId, .delegated(intent)) ? .acknowledged : .alreadyConcluded)
    }

    /// A receipt was recorded: an intent still waiting has lost to it.
    func receiptRecorded() {
        answer(.alreadyConcluded)
    }

    /// Ends the wait for an ack (if one is waited for).
    func answer(_ answer: EngineControlChannel.IntentAnswer) {
        let continuation = waiting.withLock { waiting in
            defer { waiting.continuation = nil }
            return waiting.continuation
        }
        continuation?.resume(returning: answer)
    }

    func write(_ bytes: [UInt8]) {
        channel.writeAndFlush(ByteBuffer(bytes: bytes), promise: nil)
    }

    func close() {
        channel.close(promise: nil)
    }
}

/// Reads `<token>\n` within 5 s and binds the connection to its run (anything else is closed);
/// from then on the bytes are `AttemptControlSession`'s.
private final class ControlConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let owner: EngineControlChannel
    private var line: [UInt8] = []
    private var connection: ControlConnection?
    private var session = AttemptControlSession()
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
        var bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        if connection == nil {
            guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) else {
                line += bytes
                if line.count > 128 { context.close(promise: nil) }
                return
            }
            line += bytes[..<newline]
            bytes = Array(bytes[(newline + 1)...])
            guard authenticate(context: context) else { return }
        }
        guard let connection else { return }
        for message in session.feed(bytes) {
            switch message {
            case .intentAcknowledged:
                connection.acknowledged()
            case .negotiated(let reply, _):
                connection.write(reply)
            case .receipt(let conclusion):
                if owner.conclude(connection.flowRunId, conclusion) {
                    connection.write([AttemptControlSession.receiptAck])
                    connection.receiptRecorded()
                }
            case .malformed:
                context.close(promise: nil)
                return
            }
        }
    }

    private func authenticate(context: ChannelHandlerContext) -> Bool {
        // A token is hex: blanks around it (a `\r`, spaces) are not part of it.
        let token = String(decoding: line.filter { ![9, 13, 32].contains($0) }, as: UTF8.self)
        line = []
        guard let bound = owner.authenticated(token: token, channel: context.channel) else {
            context.close(promise: nil)
            return false
        }
        connection = bound
        authenticationDeadline?.cancel()
        return true
    }

    func channelInactive(context: ChannelHandlerContext) {
        authenticationDeadline?.cancel()
        if let connection { owner.closed(connection) }
        context.fireChannelInactive()
    }
}
