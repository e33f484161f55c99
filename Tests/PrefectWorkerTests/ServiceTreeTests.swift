import Logging
import PrefectAPI
import PrefectWorkerCore
import ServiceLifecycle
import Synchronization
import Systemd
import Testing

@testable import PrefectWorker

/// What happened, in order, across services.
private final class Journal: Sendable {
    private let entries = Mutex<[String]>([])
    func note(_ entry: String) { entries.withLock { $0.append(entry) } }
    var all: [String] { entries.withLock { $0 } }
}

/// Stands in for one of the worker's services: runs until its graceful shutdown, then notes that it stopped.
private struct Recorder: Service {
    let name: String
    let journal: Journal

    func run() async throws {
        journal.note("\(name) started")
        try? await gracefulShutdown()
        journal.note("\(name) stopped")
    }
}

/// Stands in for the poll loop: at the stop it drains on the real `Drain` (deadline on the clock).
private struct DrainingRecorder: Service {
    let name: String
    let journal: Journal
    let drain: Drain
    let drainSeconds: Double

    func run() async throws {
        journal.note("\(name) started")
        try? await gracefulShutdown()
        journal.note("\(name) draining")
        let cut = await drain.waitForDeadline(seconds: drainSeconds)
        journal.note(cut ? "\(name) cut" : "\(name) deadline")
        journal.note("\(name) stopped")
    }
}

@Suite struct ServiceTreeTests {
    static let workerServices = [
        "WebServerService", "RunLogShipping", "EventEmission", "HeartbeatService", "SystemdStatusService", "EventStreamListener",
        "CancellationWatcher", "PollLoop",
    ]

    /// The worker's services in start order: the poll loop last (it stops first and drains), the
    /// web server first (it answers probes from the start until everything else has stopped).
    @Test func theWorkerStartsItsServicesInThisOrder() async throws {
        let configuration = try SettingsResolver(
            flags: CommandLineSettings(), environment: ["PREFECT_API_URL": "http://127.0.0.1:9/api", "PREFECT_WORKER_POOL": "p"],
            configFile: nil
        ).configuration()
        let api = HTTPPrefectAPI(configuration: configuration.api, logger: Logger(label: "test"))
        let parts = WorkerParts(
            api: api, configuration: configuration, clock: ManualClock(), drain: Drain(clock: ManualClock()), logs: LogSinks(format: .logfmt, level: .critical),
            notifier: SystemdNotifier(), metrics: WorkerMetrics(), logger: Logger(label: "test"))
        let names = WorkerService.services(parts).map { String(describing: type(of: $0)) }
        try await api.shutdown()
        #expect(names == Self.workerServices)
    }

    private func runTree(drainSeconds: Double, whileDraining: @escaping @Sendable (ManualClock, Drain) async -> Void) async throws -> [String] {
        let clock = ManualClock()
        let drain = Drain(clock: clock)
        let journal = Journal()
        var services: [any Service] = Self.workerServices.dropLast().map { Recorder(name: $0, journal: journal) }
        services.append(DrainingRecorder(name: "PollLoop", journal: journal, drain: drain, drainSeconds: drainSeconds))
        let group = ServiceGroup(services: services, logger: Logger(label: "test"))
        async let running: Void = group.run()
        #expect(try await until { journal.all.count == Self.workerServices.count })
        #expect(drain.signalReceived() == .stop)
        await group.triggerGracefulShutdown()
        #expect(try await until { journal.all.contains("PollLoop draining") })
        await whileDraining(clock, drain)
        try await running
        return journal.all
    }

    /// The drain runs while every other service still runs; only when the deadline passed on the
    /// clock do they stop, in reverse start order.
    @Test func thePollLoopDrainsFirstAndTheOthersStopAfterItInReverse() async throws {
        let events = try await runTree(drainSeconds: 30) { clock, _ in
            #expect(await clock.waitForPending(1))
            clock.advance(by: .seconds(29))
            // Still draining: nothing else has stopped.
            #expect(clock.pendingCount == 1)
            clock.advance(by: .seconds(1))
        }
        let stops = events.filter { $0.hasSuffix("stopped") || $0.hasSuffix("deadline") || $0.hasSuffix("cut") }
        #expect(stops == ["PollLoop deadline", "PollLoop stopped"] + Self.workerServices.dropLast().reversed().map { "\($0) stopped" })
    }

    /// A second stop signal cuts the drain at once, with no time passing.
    @Test func aSecondSignalCutsTheDrain() async throws {
        let events = try await runTree(drainSeconds: 3600) { _, drain in
            #expect(drain.signalReceived() == .cut)
        }
        #expect(events.contains("PollLoop cut"))
        #expect(events.last == "WebServerService stopped")
    }

    @Test func theDrainDeadlineIsTheClocks() async {
        let clock = ManualClock()
        let drain = Drain(clock: clock)
        async let cut = drain.waitForDeadline(seconds: 10)
        #expect(await clock.waitForPending(1))
        clock.advance(by: .seconds(10))
        #expect(await cut == false)
        #expect(drain.signalReceived() == .stop)
        #expect(drain.signalReceived() == .cut)
        #expect(drain.signalReceived() == .cut)
        #expect(await drain.waitForDeadline(seconds: 10) == true)
    }

    /// Waits (bounded, in real time) for a condition.
    private func until(seconds: Double = 10, _ condition: @escaping @Sendable () -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while !condition() {
            guard ContinuousClock.now < deadline else { return false }
            try await Task.sleep(for: .milliseconds(5))
        }
        return true
    }
}
