import ServiceLifecycle

/// Ships the worker's lines about each flow run to the Prefect API (`RunLogShipper`) until the
/// stop, then gives the server a last few seconds to take what is left.
struct RunLogShipping: Service {
    let parts: WorkerParts

    func run() async throws {
        let (shipper, api, logger) = (parts.logs.runLogs, parts.api, parts.logger)
        await cancelWhenGracefulShutdown { await shipper.run(api: api, logger: logger) }
        await shipper.flushBeforeExit(api: api, logger: logger)
    }
}

/// The worker's events (`EventEmitter`) are sent as they happen; at the stop, once the runs and
/// the heartbeat are done, `prefect.worker.stopped` goes out and what is still waiting gets a few
/// seconds.
struct EventEmission: Service {
    let parts: WorkerParts

    func run() async throws {
        try? await gracefulShutdown()
        await parts.events.workerStopped()
    }
}
