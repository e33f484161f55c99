import FoundationEssentials
import Logging
import PrefectAPI
import PrefectWorkerCore
import ProcessSupervisor
import ServiceLifecycle

/// Owns the runs: once registered, adopts what an earlier worker process left running, then polls
/// the pool and claims what is due into free slots, one task per run, until the stop (or the
/// ephemeral modes' end). At the stop it claims nothing more and drains: the runs in flight get
/// `drain_seconds` to finish (a second stop signal cuts that short), then the rest are stopped
/// (docs/architecture.md, "The service tree"). The first service to stop, the last to start.
struct PollLoop: Service {
    let parts: WorkerParts

    func run() async throws {
        guard let registered = await cancelWhenGracefulShutdown({ await parts.registration.wait() }) else { return }
        let (configuration, logger) = (parts.configuration, parts.logger)
        let controlChannel = EngineControlChannel(logger: logger)
        if !(await controlChannel.start()) {
            logger.warning("could not open the engine control channel on 127.0.0.1; cancelled engine runs are stopped by signals only")
        }
        if !ChildReaper.shared.becomeSubreaper() {
            logger.warning("could not become a child subreaper; orphaned processes of a run are found by their environment only")
        }
        let ledger = configuration.stateDirectory.flatMap {
            RunLedger(stateDirectory: "\($0)/pools/\(Self.fileName(configuration.poolName))", logger: logger)
        }
        let claimPauses = ClaimPauses()
        let executor = FlowRunExecutor(
            api: parts.api, configuration: configuration, poolCache: registered.cache, registry: parts.registry,
            controlChannel: controlChannel, ledger: ledger, logs: parts.logs, events: parts.events, metrics: parts.metrics,
            claimPauses: claimPauses, reads: BatchedServerReads(api: parts.api, clock: parts.clock), pythonCheck: parts.pythonCheck, clock: parts.clock, logger: logger)
        // Reconciling waits for the server; a stop meanwhile ends it (what is left stays in the ledger).
        let startedAt = parts.clock.now
        let recovery = await cancelWhenGracefulShutdown { await executor.recover(logger: logger) }
        await withTaskGroup(of: Void.self) { drainDeadline in
            await withDiscardingTaskGroup { runs in
                runs.addTask { await executor.recoverLater(recovery.later, startedAt: startedAt) }
                for entry in recovery.adopted {
                    await parts.slots.adopt(entry.flowRunId)
                    runs.addTask {
                        let afterSlot = await executor.superviseAdopted(entry)
                        await parts.slots.release(entry.flowRunId)
                        await afterSlot?.run()
                    }
                }
                await claimUntilStopped(executor: executor, pauses: claimPauses, runs: &runs)
                if let reason = parts.watch.fatalReason {
                    logger.critical("\(reason); stopping")
                }
                let inFlight = await parts.slots.count
                if inFlight > 0 {
                    logger.notice(
                        "stopped claiming; waiting for \(inFlight) flow run(s) in flight to finish",
                        metadata: ["drain_seconds": "\(configuration.drainSeconds)"])
                    drainDeadline.addTask {
                        // A stop signal (or refused credentials) bounds the wait by the drain
                        // deadline; --run-once and the ephemeral modes wait for their runs however
                        // long they take.
                        if parts.watch.fatalReason == nil { try? await gracefulShutdown() }
                        if !Task.isCancelled { await stopRunsAtDeadline() }
                    }
                }
            }
            drainDeadline.cancelAll()
        }
    }

    /// Polls and claims until the stop, a fatal refusal, or the ephemeral modes' end. A stop that
    /// arrived before the first poll claims nothing.
    private func claimUntilStopped(executor: FlowRunExecutor, pauses: ClaimPauses, runs: inout DiscardingTaskGroup) async {
        let (configuration, slots, pollWake) = (parts.configuration, parts.slots, parts.pollWake)
        let cadence = configuration.pollCadence
        while !Task.isShuttingDownGracefully && !Task.isCancelled && parts.watch.fatalReason == nil {
            let streamSubscribed = parts.health.isEventStreamSubscribed
            let contended = pauses.isContended()
            let polled = await cancelWhenGracefulShutdown {
                await poll(pauses: pauses, contended: contended, lookaheadSeconds: cadence.lookaheadSeconds(streamSubscribed: streamSubscribed))
            }
            let (due, nextClaimAt) = cadence.split(polled, now: Date())
            var random = SystemRandomNumberGenerator()
            for scheduled in ClaimSpread.order(due, contended: contended, using: &random) where !pauses.isPaused(scheduled.flowRun.id) {
                let id = scheduled.flowRun.id
                guard await slots.reserve(id) else { continue }
                runs.addTask {
                    let afterSlot = await executor.execute(scheduled) { won in await slots.settle(won: won) }
                    await slots.release(id)
                    // A free slot (or a place in a --max-runs quota given back by a lost
                    // claim) takes the next due run now, not at the next interval. This
                    // cannot loop: a refused run is paused (`ClaimPauses`), so the poll
                    // it causes proposes nothing for it, and waits again.
                    pollWake.fire()
                    // Outside the run's slot: a hook or a look at a stray claim takes no run's
                    // place. Still in the group, so a stopping worker waits for it (bounded).
                    await afterSlot?.run()
                }
            }
            if configuration.runOnce { break }
            if let reason = await ephemeralExit() {
                parts.logger.notice("\(reason): claiming nothing more; exiting once the runs in flight are done")
                break
            }
            let wait = min(
                cadence.wait(now: Date(), streamSubscribed: streamSubscribed, nextClaimAt: nextClaimAt),
                await idleExitDeadline().map { max(0, ($0 - parts.clock.now).inSeconds) } ?? .infinity)
            await cancelWhenGracefulShutdown { await pollWake.wait(upTo: wait) }
        }
    }

    /// Waits for the drain deadline or a cut (the second stop signal), then stops every run still
    /// in flight: each run's supervision tears it down and reports it.
    private func stopRunsAtDeadline() async {
        let drainSeconds = parts.configuration.drainSeconds
        let cut = await parts.drain.waitForDeadline(seconds: drainSeconds)
        if Task.isCancelled { return }
        let stopped = await parts.registry.stopAll()
        parts.drain.recordCut(runs: stopped)
        parts.logger.warning(
            cut ? "second stop signal: stopping \(stopped) flow run(s) in flight now"
                : "drain deadline of \(drainSeconds) s passed: stopping \(stopped) flow run(s) in flight")
    }

    /// Why an ephemeral worker stops claiming now (`--max-runs` taken, `--exit-after-idle` reached), if it does.
    private func ephemeralExit() async -> String? {
        let configuration = parts.configuration
        if await parts.slots.quota.isSpent, let maxRuns = configuration.maxRuns {
            return "took the \(maxRuns) flow run(s) of --max-runs"
        }
        if let idleExitAt = await idleExitDeadline(), idleExitAt <= parts.clock.now, let idle = configuration.exitAfterIdleSeconds {
            return "idle for \(idle) s (--exit-after-idle)"
        }
        return nil
    }

    /// When `--exit-after-idle` ends the worker if nothing comes; nil while runs are in flight.
    private func idleExitDeadline() async -> ContinuousClock.Instant? {
        guard let idle = parts.configuration.exitAfterIdleSeconds, let since = await parts.slots.idleSince else { return nil }
        return since + .seconds(idle)
    }

    /// A pool name as one safe path component.
    static func fileName(_ name: String) -> String {
        String(name.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" })
    }

    /// One poll: the runs due before now + prefetch (+ lookahead), at most as many as there are free
    /// slots, plus as many as are paused after refused claims (the server returns the oldest first,
    /// so paused runs must not crowd out the others), plus a window to spread the claims in while
    /// other workers take the same runs (`ClaimSpread`). Retried while the server is busy or away,
    /// never waiting longer than the poll interval between attempts.
    private func poll(pauses: ClaimPauses, contended: Bool, lookaheadSeconds: Double) async -> [ScheduledFlowRun] {
        let configuration = parts.configuration
        guard let plan = PollPlan.make(
            now: Date(), prefetchSeconds: configuration.prefetchSeconds + lookaheadSeconds, freeSlots: await parts.slots.capacity)
        else {
            parts.health.pollSucceeded()  // every slot is busy: not polling is the loop doing its job
            return []
        }
        do {
            let runs = try await parts.api.scheduledFlowRuns(
                pool: configuration.poolName, queues: configuration.workQueues, scheduledBefore: plan.scheduledBefore,
                limit: plan.limit.map { $0 + min(pauses.pausedCount(), 100) + ClaimSpread.extra(freeSlots: $0, contended: contended) },
                retry: .periodic(every: configuration.pollCadence.querySeconds))
            parts.watch.answered()
            parts.health.pollSucceeded()
            return runs
        } catch is CancellationError {
            return []
        } catch {
            parts.watch.failed(error)
            parts.logger.warning("poll failed: \(error)")
            return []
        }
    }
}
