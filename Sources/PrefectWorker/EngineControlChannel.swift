import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The supervisor side of the Prefect engine's loopback control channel (docs/prefect-worker-protocol.md §5.5): the
/// worker listens on 127.0.0.1, gives each engine child a port and a one-time token
/// (`PREFECT__CONTROL_PORT`, `PREFECT__CONTROL_TOKEN`); the engine connects once it runs the flow
/// and sends `<token>\n`. To cancel, the worker writes `c` and waits up to a second for the ack
/// `a`; the engine then treats the following SIGTERM as a cancellation: it records CANCELLED itself
/// and runs the flow's `on_cancellation` hooks. Protocol version 1: the engine's 5-byte hello is
/// ignored, so no outcome receipts are negotiated.
final class EngineControlChannel: @unchecked Sendable {
    private let lock = NSLock()
    private var listener: Int32 = -1
    private(set) var port: UInt16 = 0
    private var pendingTokens: [String: String] = [:]  // token -> flow run id
    private var connections: [String: Int32] = [:]  // flow run id -> connected socket
    private let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    /// Starts listening; false (and cancellation falls back to signals) when the socket cannot be made.
    func start() -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else { close(fd); return false }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        let thread = Thread { [self] in acceptForever() }
        thread.name = "prefect-worker-control"
        thread.start()
        return true
    }

    /// A token for a run about to be started; the environment variables to give its engine.
    func register(flowRunId: String) -> [String: String] {
        guard listener >= 0 else { return [:] }
        let token = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        lock.lock()
        pendingTokens[token] = flowRunId
        lock.unlock()
        return ["PREFECT__CONTROL_PORT": String(port), "PREFECT__CONTROL_TOKEN": token]
    }

    func unregister(flowRunId: String) {
        lock.lock()
        pendingTokens = pendingTokens.filter { $0.value != flowRunId }
        let fd = connections.removeValue(forKey: flowRunId)
        lock.unlock()
        if let fd { close(fd) }
    }

    /// Sends the cancel intent; true when the engine acknowledged within `timeout` seconds, false
    /// when it is not connected or did not answer.
    func sendCancelIntent(flowRunId: String, timeout: Double = 1) async -> Bool {
        guard let fd = lock.withLock({ connections[flowRunId] }) else { return false }
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: Self.deliver(byte: UInt8(ascii: "c"), to: fd, awaitingAckWithin: timeout))
            }
        }
    }

    private static func deliver(byte: UInt8, to fd: Int32, awaitingAckWithin timeout: Double) -> Bool {
        var intent = byte
        guard send(fd, &intent, 1, Int32(MSG_NOSIGNAL)) == 1 else { return false }
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 64)
        while true {
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 { return false }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(remaining * 1000) + 1)
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 { return false }
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { return false }
            // Skip the engine's negotiation hello (00 'P' 'F' 02 01); the ack is a single 'a'.
            if buffer[0..<count].contains(UInt8(ascii: "a")) { return true }
        }
    }

    private func acceptForever() {
        while true {
            // Children never inherit it: spawning closes every descriptor above 2.
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                logger.warning("control channel stopped accepting: errno \(errno)")
                return
            }
            DispatchQueue.global().async { [self] in authenticate(fd) }
        }
    }

    /// Reads `<token>\n` (within 5 s) and binds the connection to its run; anything else is closed.
    private func authenticate(_ fd: Int32) {
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while line.count < 128 {
            guard recv(fd, &byte, 1, 0) == 1 else { close(fd); return }
            if byte == UInt8(ascii: "\n") { break }
            line.append(byte)
        }
        let token = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespaces)
        lock.lock()
        guard let flowRunId = pendingTokens.removeValue(forKey: token) else {
            lock.unlock()
            close(fd)
            return
        }
        let previous = connections.updateValue(fd, forKey: flowRunId)
        lock.unlock()
        if let previous { close(previous) }
        var none = timeval(tv_sec: 0, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, socklen_t(MemoryLayout<timeval>.size))
    }
}
