import PrefectAPI
import PrefectWorkerCore
import ServiceLifecycle

/// At once when the event stream tells of a cancel, and every poll interval (see `PollCadence`)
/// in any case, one request asks which of the runs in flight are CANCELLING, and posts
/// `cancelRequested` to their supervision (docs/prefect-worker-protocol.md §2.6: the
/// pool-independent, id-restricted filter). With nothing in flight it sleeps. Runs through the
/// drain: a run cancelled while the worker stops is still cancelled.
struct CancellationWatcher: Service {
    let parts: WorkerParts

    func run() async throws {
        await cancelWhenGracefulShutdown { await watch() }
    }

    private func watch() async {
        let (registry, health, logger) = (parts.registry, parts.health, parts.logger)
        let cadence = parts.configuration.pollCadence
        while !Task.isCancelled {
            if await registry.ids.isEmpty {
                await registry.firstRegistered.wait(upTo: 3600)
                continue
            }
            await parts.cancelWake.wait(upTo: cadence.interval(streamSubscribed: health.isEventStreamSubscribed))
            let ids = await registry.ids
            if Task.isCancelled { return }
            guard !ids.isEmpty else { continue }
            do {
                let cancelling = try await parts.api.cancellingFlowRuns(
                    ids: ids, retry: .periodic(every: cadence.interval(streamSubscribed: health.isEventStreamSubscribed)))
                parts.watch.answered()
                for run in cancelling where await registry.requestCancel(run.id) {
                    logger.notice("flow run is CANCELLING", metadata: ["flow_run_id": "\(run.id)", "flow_run_name": "\(run.name)"])
                }
            } catch is CancellationError {
                return
            } catch {
                parts.watch.failed(error)
                logger.warning("could not check for cancellations: \(error)")
            }
        }
    }
}
