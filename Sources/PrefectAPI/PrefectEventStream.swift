import FoundationEssentials
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import PrefectWorkerCore

/// Why an event stream connection ended.
public enum EventStreamError: Error, CustomStringConvertible {
    case badURL(String)
    case notUpgraded(String)
    case refused(String)
    case silent(seconds: Int)
    case closed
    case proxy(String)

    public var description: String {
        switch self {
        case .badURL(let url): return "cannot make a WebSocket address of PREFECT_API_URL '\(url)'"
        case .notUpgraded(let path): return "the server did not accept a WebSocket on \(path)"
        case .refused(let reason): return "the server closed the event stream: \(reason)"
        case .silent(let seconds): return "nothing came from the server for \(seconds) s"
        case .closed: return "the server closed the event stream"
        case .proxy(let reason): return "no tunnel through the proxy: \(reason)"
        }
    }
}

/// One subscription to `WS /events/out` (docs/prefect-worker-protocol.md §7): upgrade with the `prefect` subprotocol,
/// an auth frame, a filter frame, then one event per text frame until the connection ends.
/// Pings every 20 s; a connection silent for 60 s (10 s before the subscription) is given up.
public struct PrefectEventStream: Sendable {
    let configuration: PrefectAPIConfiguration
    static let pingInterval: Double = 20
    static let silenceLimit: Double = 60
    static let handshakeLimit: Double = 10

    /// The handshake limit, the pings and the silence check wait on it.
    let clock: any WorkerClock

    public init(configuration: PrefectAPIConfiguration, clock: any WorkerClock = EventLoopClock()) {
        self.configuration = configuration
        self.clock = clock
    }

    enum Upgrade: Sendable {
        case websocket(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>)
        case refused
    }

    struct Endpoint {
        var host: String
        var port: Int
        var path: String
        var tls: Bool
    }

    static func endpoint(baseURL: String) -> Endpoint? {
        guard let components = URLComponents(string: baseURL), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else { return nil }
        let tls = scheme == "https"
        let bareHost = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        let path = (components.percentEncodedPath.hasSuffix("/") ? String(components.percentEncodedPath.dropLast())
            : components.percentEncodedPath) + "/events/out"
        return Endpoint(host: bareHost, port: components.port ?? (tls ? 443 : 80), path: path, tls: tls)
    }

    /// Runs one connection: `onSubscribed` once the filter is sent, `onMessage` for every message
    /// after that. Returns or throws when the connection ends; the caller reconnects.
    public func run(
        _ subscription: EventSubscription, onSubscribed: @escaping @Sendable () async -> Void,
        onMessage: @escaping @Sendable (EventStreamMessage) async -> Void
    ) async throws {
        guard let endpoint = Self.endpoint(baseURL: configuration.baseURL) else {
            throw EventStreamError.badURL(configuration.baseURL)
        }
        let connection = NIOLockedValueBox<(any Channel)?>(nil)
        let upgrade = try await connect(endpoint) { channel in connection.withLockedValue { $0 = channel } }
        // A server that accepts the connection but never answers the upgrade is given up too.
        let upgraded: Upgrade = try await withThrowingTaskGroup(of: Upgrade.self) { race in
            race.addTask { try await upgrade.get() }
            race.addTask {
                try await clock.sleep(seconds: Self.handshakeLimit)
                connection.withLockedValue { $0 }?.close(promise: nil)
                throw EventStreamError.silent(seconds: Int(Self.handshakeLimit))
            }
            defer { race.cancelAll() }
            return try await race.next()!
        }
        guard case .websocket(let channel) = upgraded else {
            throw EventStreamError.notUpgraded(endpoint.path)
        }
        // Measured on the monotonic clock; the waits are the injected clock's.
        let lastInbound = NIOLockedValueBox(ContinuousClock.now)
        let subscribed = NIOLockedValueBox(false)
        try await channel.executeThenClose { inbound, outbound in
            try await withThrowingTaskGroup(of: Void.self) { group in
                // The keepalive: a ping every 20 s, and the connection is closed when nothing came for too long.
                group.addTask {
                    var lastPing = ContinuousClock.now
                    while true {
                        let now = ContinuousClock.now
                        let limit = subscribed.withLockedValue { $0 } ? Self.silenceLimit : Self.handshakeLimit
                        let silentUntil = lastInbound.withLockedValue { $0 } + .seconds(limit)
                        if now > silentUntil { throw EventStreamError.silent(seconds: Int(limit)) }
                        if now - lastPing >= .seconds(Self.pingInterval) {
                            try await outbound.write(Self.frame(.ping, ByteBuffer()))
                            lastPing = now
                        }
                        // Wakes only when a ping is due or the silence limit could be reached.
                        let next = min(lastPing + .seconds(Self.pingInterval), silentUntil)
                        try await clock.sleep(seconds: max(0.05, (next - now).inSeconds + 0.01))
                    }
                }
                group.addTask {
                    try await outbound.write(Self.frame(.text, ByteBuffer(string: EventSubscription.authMessage(token: token))))
                    for try await frame in inbound {
                        lastInbound.withLockedValue { $0 = ContinuousClock.now }
                        switch frame.opcode {
                        case .text:
                            let message = EventStreamMessage.parse(String(buffer: frame.unmaskedData))
                            if subscribed.withLockedValue({ $0 }) {
                                if let message { await onMessage(message) }
                            } else if message == .authSuccess {
                                try await outbound.write(
                                    Self.frame(.text, ByteBuffer(string: subscription.filterMessage(now: Date()))))
                                subscribed.withLockedValue { $0 = true }
                                await onSubscribed()
                            } else {
                                throw EventStreamError.refused("expected auth_success, got \(String(buffer: frame.unmaskedData).prefix(200))")
                            }
                        case .ping:
                            try await outbound.write(Self.frame(.pong, frame.unmaskedData))
                        case .connectionClose:
                            throw EventStreamError.refused(Self.closeReason(frame.unmaskedData))
                        default:
                            break
                        }
                    }
                    throw EventStreamError.closed
                }
                // Whichever ends first ends the connection.
                defer { group.cancelAll() }
                _ = try await group.next()
            }
        }
    }

    private var token: String? { configuration.authString ?? configuration.apiKey }

    static func frame(_ opcode: WebSocketOpcode, _ data: ByteBuffer) -> WebSocketFrame {
        WebSocketFrame(fin: true, opcode: opcode, maskKey: .random(), data: data)
    }

    static func closeReason(_ data: ByteBuffer) -> String {
        var data = data
        guard let code = data.readInteger(as: UInt16.self) else { return "no close code" }
        let reason = data.readString(length: data.readableBytes) ?? ""
        return reason.isEmpty ? "close code \(code)" : "close code \(code), \(reason)"
    }

    private func connect(
        _ endpoint: Endpoint, connected: @escaping @Sendable (any Channel) -> Void
    ) async throws -> EventLoopFuture<Upgrade> {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: endpoint.host.contains(":") ? "[\(endpoint.host)]:\(endpoint.port)" : "\(endpoint.host):\(endpoint.port)")
        headers.add(name: "Sec-WebSocket-Protocol", value: "prefect")
        for (name, value) in configuration.headers where !["content-type", "accept"].contains(name.lowercased()) {
            headers.add(name: name, value: value)
        }
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: endpoint.path, headers: headers)
        let tlsContext = endpoint.tls ? try NIOSSLContext(configuration: configuration.tls.clientConfiguration) : nil
        let serverName = endpoint.host.contains(":") || endpoint.host.allSatisfy({ $0.isNumber || $0 == "." }) ? nil : endpoint.host
        // Through a proxy: a CONNECT tunnel to the server first, then TLS and the upgrade inside it.
        let proxy = configuration.proxy
        return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .connect(host: proxy?.host ?? endpoint.host, port: proxy?.port ?? endpoint.port) { channel in
                connected(channel)
                return channel.eventLoop.makeCompletedFuture {
                    let upgrade = {
                        try Self.configureUpgrade(channel, head: head, tlsContext: tlsContext, serverName: serverName)
                    }
                    guard let proxy else { return try upgrade() }
                    let tunnel = ProxyTunnelHandler(
                        targetHost: endpoint.host, targetPort: endpoint.port, credentials: proxy.credentials, eventLoop: channel.eventLoop)
                    try channel.pipeline.syncOperations.addHandler(tunnel)
                    return tunnel.established.flatMapThrowing { try upgrade() }.flatMap { $0 }
                }
            }
    }

    /// TLS (for wss) and the WebSocket upgrade request, on a channel to the server (or a tunnel to it).
    private static func configureUpgrade(
        _ channel: any Channel, head: HTTPRequestHead, tlsContext: NIOSSLContext?, serverName: String?
    ) throws -> EventLoopFuture<Upgrade> {
        if let tlsContext {
            try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tlsContext, serverHostname: serverName))
        }
        let upgrader = NIOTypedWebSocketClientUpgrader<Upgrade>(maxFrameSize: 1 << 22) { channel, _ in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(
                    NIOWebSocketFrameAggregator(minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 256, maxAccumulatedFrameSize: 1 << 24))
                return Upgrade.websocket(try NIOAsyncChannel(wrappingChannelSynchronously: channel))
            }
        }
        let upgradeConfiguration = NIOTypedHTTPClientUpgradeConfiguration<Upgrade>(
            upgradeRequestHead: head, upgraders: [upgrader],
            notUpgradingCompletionHandler: { channel in channel.eventLoop.makeCompletedFuture { .refused } })
        return try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
            configuration: .init(upgradeConfiguration: upgradeConfiguration))
    }
}
