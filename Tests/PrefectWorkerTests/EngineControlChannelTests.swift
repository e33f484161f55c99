import Foundation
import Logging
import PrefectWorkerCore
import Synchronization
import Testing

@testable import PrefectWorker

#if canImport(Glibc)
import Glibc
#endif

/// The engine's side of the control channel, on a real loopback socket: connects, sends its token
/// and the 5-byte hello, then answers (or not) the intent.
private final class FakeEngineSocket: Sendable {
    let fd: Int32

    init?(port: String) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port)!).bigEndian
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            return nil
        }
        self.fd = fd
    }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// The next byte, or nil at the end of the connection (or after 5 s).
    func receiveByte() -> UInt8? {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, 0) == 1 ? byte : nil
    }

    deinit { close(fd) }
}

@Suite struct EngineControlChannelTests {
    static let hello: [UInt8] = [0, UInt8(ascii: "P"), UInt8(ascii: "F"), 2, 1]

    func started() async throws -> EngineControlChannel {
        let channel = EngineControlChannel(logger: Logger(label: "test"))
        #expect(await channel.start())
        return channel
    }

    /// Waits (bounded) until the channel has bound the engine's connection to its run.
    func connected(_ channel: EngineControlChannel, _ flowRunId: String) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if channel.isConnected(flowRunId: flowRunId) { return true }
            try await Task.sleep(for: .milliseconds(5))
        }
        return false
    }

    /// A registered run's fake engine, authenticated (and, for a version-2 engine, negotiated).
    fileprivate func engine(_ channel: EngineControlChannel, _ flowRunId: String, hello: Bool, onConclusion: @escaping @Sendable (AttemptConclusion) -> Void = { _ in })
        async throws -> FakeEngineSocket
    {
        let environment = channel.register(flowRunId: flowRunId, onConclusion: onConclusion)
        let port = try #require(environment["PREFECT__CONTROL_PORT"])
        let token = try #require(environment["PREFECT__CONTROL_TOKEN"])
        let engine = try #require(FakeEngineSocket(port: port))
        engine.send(Array((token + "\n").utf8) + (hello ? Self.hello : []))
        if hello {
            let reply = await Task.detached { (0..<5).compactMap { _ in engine.receiveByte() } }.value
            #expect(reply == Self.hello, "version 2 with receipts")
        }
        #expect(try await connected(channel, flowRunId))
        return engine
    }

    static func receipt(_ json: String) -> [UInt8] {
        let payload = Array(json.utf8)
        return [0x01, 0, 0, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)] + payload
    }

    @Test(arguments: [true, false])
    func anEngineThatAcknowledgesGetsTheIntentWithOrWithoutTheVersion2Hello(_ hello: Bool) async throws {
        let channel = try await started()
        let engine = try await engine(channel, "run-1", hello: hello)
        async let answer = channel.sendIntent(.reschedule, flowRunId: "run-1", timeout: 5)
        let intent = await Task.detached { engine.receiveByte() }.value
        #expect(intent == UInt8(ascii: "r"))
        engine.send([UInt8(ascii: "a")])
        #expect(await answer == .acknowledged)
        #expect(channel.conclusion(flowRunId: "run-1") == .delegated(.reschedule))
        channel.unregister(flowRunId: "run-1")
        #expect(await Task.detached { engine.receiveByte() }.value == nil)  // closed by the worker
    }

    @Test func aReceiptIsAcknowledgedRecordedAndWinsOverALaterIntent() async throws {
        let channel = try await started()
        let told = Mutex<[AttemptConclusion]>([])
        let engine = try await engine(channel, "run-4", hello: true) { conclusion in told.withLock { $0.append(conclusion) } }
        engine.send(Self.receipt(#"{"disposition":"STATE_REPORTED","state_id":"0b6f7d8e-1c2a-4b3d-9e8f-7a6b5c4d3e2f","state_name":"Failed","state_type":"FAILED"}"#))
        #expect(await Task.detached { engine.receiveByte() }.value == 0x02, "the receipt's ack")
        #expect(channel.conclusion(flowRunId: "run-4") == .stateReported(type: "FAILED", name: "Failed"))
        #expect(told.withLock { $0 } == [.stateReported(type: "FAILED", name: "Failed")])
        #expect(await channel.sendIntent(.cancel, flowRunId: "run-4", timeout: 5) == .alreadyConcluded)
    }

    @Test func aReceiptWithoutNegotiationEndsTheSessionAndRecordsNothing() async throws {
        let channel = try await started()
        let engine = try await engine(channel, "run-5", hello: false)
        engine.send(Self.receipt(#"{"disposition":"ORCHESTRATION_ABORTED"}"#))
        #expect(await Task.detached { engine.receiveByte() }.value == nil, "closed")
        #expect(channel.conclusion(flowRunId: "run-5") == nil)
    }

    @Test func anEngineThatDoesNotAnswerIsNotAcknowledgedWithinTheTimeout() async throws {
        let channel = try await started()
        let engine = try await engine(channel, "run-2", hello: true)
        defer { withExtendedLifetime(engine) {} }
        let started = ContinuousClock.now
        #expect(await channel.sendIntent(.cancel, flowRunId: "run-2", timeout: 0.2) == .notAcknowledged)
        let waited = ContinuousClock.now - started
        #expect(waited >= .milliseconds(150) && waited < .seconds(5), "\(waited)")
        #expect(channel.conclusion(flowRunId: "run-2") == nil)
    }

    @Test func aWrongTokenIsClosedAndAnUnconnectedRunIsNotAcknowledged() async throws {
        let channel = try await started()
        let environment = channel.register(flowRunId: "run-3")
        let port = try #require(environment["PREFECT__CONTROL_PORT"])
        let stranger = try #require(FakeEngineSocket(port: port))
        stranger.send(Array("not-the-token\n".utf8))
        #expect(await Task.detached { stranger.receiveByte() }.value == nil)
        #expect(!channel.isConnected(flowRunId: "run-3"))
        #expect(await channel.sendIntent(.cancel, flowRunId: "run-3", timeout: 0.2) == .notAcknowledged)
    }
}
