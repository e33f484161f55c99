import Logging
import PrefectAPI
import PrefectWorkerCore
import Systemd

/// What the worker's services share, made once when the worker starts (docs/architecture.md,
/// "The service tree"). Each service takes the parts it needs from here.
struct WorkerParts: Sendable {
    let api: any PrefectAPI
    let configuration: WorkerConfiguration
    let clock: any WorkerClock
    let drain: Drain
    let logs: LogSinks
    let notifier: SystemdNotifier
    let health: WorkerHealth
    let metrics: WorkerMetrics
    let logger: Logger
    /// The runs in flight, from claim to final state (the poll loop owns them).
    let slots: RunSlots
    /// Each run's event channel: cancels and the drain's stop reach the run through it.
    let registry: RunRegistry
    /// Wakes the poll loop (a free slot, the event stream, a refused credential).
    let pollWake: WakeSignal
    /// Wakes the cancellation watcher (the event stream saw a run set CANCELLING).
    let cancelWake: WakeSignal
    let watch: CredentialWatch
    let events: EventEmitter
    let registration: Registration
    let pythonCheck: PythonCheck

    init(
        api: any PrefectAPI, configuration: WorkerConfiguration, clock: any WorkerClock, drain: Drain, logs: LogSinks,
        notifier: SystemdNotifier, metrics: WorkerMetrics, logger: Logger
    ) {
        self.api = api
        self.configuration = configuration
        self.clock = clock
        self.drain = drain
        self.logs = logs
        self.notifier = notifier
        self.metrics = metrics
        self.logger = logger
        let health = WorkerHealth()
        self.health = health
        slots = RunSlots(limit: configuration.limit, maxRuns: configuration.maxRuns, clock: clock) { count in health.inFlight(count) }
        registry = RunRegistry(clock: clock)
        let pollWake = WakeSignal(clock: clock)
        self.pollWake = pollWake
        cancelWake = WakeSignal(clock: clock)
        watch = CredentialWatch(credentials: configuration.api.credentialKind) { pollWake.fire() }
        events = EventEmitter(api: api, logger: logger, clock: clock)
        registration = Registration()
        pythonCheck = PythonCheck(python: configuration.python, environment: configuration.environment)
    }
}
