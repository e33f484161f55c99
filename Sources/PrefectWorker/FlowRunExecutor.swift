import FoundationEssentials
import Logging
import PrefectAPI
import PrefectWorkerCore
import ProcessSupervisor

#if canImport(Glibc)
import Glibc
#endif

/// Takes one scheduled flow run from claim to a terminal state (or leaves it to another worker when
/// the claim is lost). Every decision is made by PrefectWorkerCore; this type only does the I/O.
struct FlowRunExecutor: Sendable {
    let api: any PrefectAPI
    let configuration: WorkerConfiguration
    let poolCache: WorkPoolCache
    let registry: RunRegistry
    let controlChannel: EngineControlChannel
    let ledger: RunLedger?
    let logs: LogSinks
    let events: EventEmitter
    let metrics: WorkerMetrics
    /// Runs whose claims were refused lately, left alone for a while.
    let claimPauses: ClaimPauses
    /// The flows of the runs seen so far.
    let flowNames = FlowNames()
    /// Proposals with an attempt that went unanswered, per run in flight.
    let strays = StrayTransitions()
    /// Deployment and state reads shared between runs.
    let reads: BatchedServerReads
    /// Whether `configuration.python` imports prefect (engine runs without a command need it).
    let pythonCheck: PythonCheck
    /// Timers and waits (docs/architecture.md, "Time").
    let clock: any WorkerClock
    let logger: Logger

    /// `claimDecided` is told whether the claim was won, before the run is prepared. Returns what
    /// is to be done after the run's slot is given back: its `on_crashed` hooks, or a second look
    /// at a claim given up.
    func execute(_ scheduled: ScheduledFlowRun, claimDecided: @Sendable (Bool) async -> Void = { _ in }) async -> (any AfterSlotWork)? {
        let run = scheduled.flowRun
        var logger = self.logger
        logger[metadataKey: "flow_run_id"] = "\(run.id)"
        logger[metadataKey: "flow_run_name"] = "\(run.name)"
        if let deploymentId = run.deploymentId { logger[metadataKey: "deployment_id"] = "\(deploymentId)" }

        let outcome = await claim(run, logger: logger)
        switch outcome {
        case .won: break
        // Its ledger entry stays until the stray claim is looked at again.
        case .unsettled: break
        case .refused, .deploymentMissing: await ledger?.remove(run.id)
        }
        await claimDecided(outcome == .won)
        switch outcome {
        case .won:
            claimPauses.forget(run.id)
        case .unsettled:
            metrics.claimAborted()
            claimPauses.refused(run.id, deploymentId: run.deploymentId)
            return LateAttemptCheck(run: run, transitions: strays.take(run.id), executor: self, logger: logger)
        case .refused(let serverDelay, let refusal):
            metrics.claimAborted()
            let pause = claimPauses.refused(run.id, deploymentId: run.deploymentId, serverDelay: serverDelay, refusal: refusal)
            logger.debug("not proposing this flow run again for \(Int(pause)) s")
            return nil
        case .deploymentMissing:
            metrics.claimAborted()
            await endRunOfDeletedDeployment(run, logger: logger)
            return nil
        }
        let claimedAt = clock.now
        metrics.runClaimed()
        logger.info("claimed flow run")
        giveWorkerLabels(to: run, logger: logger)
        let (events, postEvent) = await registry.register(run.id)
        await registry.noteState(run.id, .pending)
        let hooks: (any AfterSlotWork)? = await prepareAndLaunch(run, claimedAt: claimedAt, events: events, postEvent: postEvent, logger: logger)
        metrics.runFinished(in: await registry.unregister(run.id))
        let stray = strays.take(run.id)
        // With a proposal that may still land, the entry (and its strays) stays until the second
        // look: a worker killed before it looks leaves the look to its next start.
        if stray.isEmpty { await ledger?.remove(run.id) }
        // Before the poll loop frees this run's slot and polls: a run waiting for this
        // deployment's concurrency slot is proposed in that poll.
        if let deploymentId = run.deploymentId { claimPauses.slotFreed(deploymentId: deploymentId) }
        let check: (any AfterSlotWork)? = stray.isEmpty ? nil : LateAttemptCheck(run: run, transitions: stray, executor: self, logger: logger)
        let works: [any AfterSlotWork] = [hooks, check].compactMap { $0 }
        return works.isEmpty ? nil : AfterSlotWorks(works: works)
    }

    /// Patches the worker's and pool's labels onto the claimed run, as Prefect's worker does, but
    /// beside the run rather than in its way: a failed or slow PATCH neither crashes nor delays it
    /// (Prefect's worker crashes the run when this call fails).
    private func giveWorkerLabels(to run: FlowRun, logger: Logger) {
        Task { [api, poolCache, configuration] in
            let labels = WorkerLabels.forFlowRun(workerName: configuration.workerName, pool: await poolCache.pool)
            do {
                try await api.addFlowRunLabels(flowRunId: run.id, labels: labels, retry: RetryPolicy(maxDelay: 10, maxRetries: 3))
            } catch {
                logger.info("could not label the flow run with the worker's name and pool (the run goes on)", metadata: ["error": "\(error)"])
            }
        }
    }

    /// A run whose claim was aborted because its deployment is gone can never be claimed by
    /// anyone: once a read of the deployment confirms it (404), the run is ended for good,
    /// CANCELLED with Prefect's worker's message. A deployment that is there after all (the abort
    /// raced with its re-creation) only pauses the run like any refused claim.
    private func endRunOfDeletedDeployment(_ run: FlowRun, logger: Logger) async {
        guard let deploymentId = run.deploymentId,
            let exists = await untilAnswered("read deployment \(deploymentId)", logger: logger, {
                try await reads.deployments.read(deploymentId) != nil
            }), !exists
        else {
            claimPauses.refused(run.id, deploymentId: run.deploymentId)
            return
        }
        logger.error("deployment \(deploymentId) no longer exists; cancelling the flow run")
        await propose(FinalStateDecision.deploymentDeleted(deploymentId), for: run, logger: logger)
        claimPauses.forget(run.id)
    }

    /// This worker process's start time: with its pid, what tells its ledger entries from those of
    /// an earlier worker process. Read once.
    static let workerStartTime = ProcessIdentity.startTime(of: getpid())

    /// The ledger entry of a run held by this worker process.
    func ledgerEntry(
        for run: FlowRun, phase: LedgerEntry.Phase, pid: Int32? = nil, reporting: StateReporting = .engine,
        profileDirectory: String? = nil
    ) -> LedgerEntry {
        var entry = LedgerEntry(
            flowRunId: run.id, flowRunName: run.name, workerName: configuration.workerName, workerPid: getpid(),
            workerStartTime: Self.workerStartTime, phase: phase, pid: pid,
            pidStartTime: pid.flatMap(ProcessIdentity.startTime(of:)), reporting: reporting, updated: Date())
        entry.profileDirectory = profileDirectory
        return entry
    }

    private func prepareAndLaunch(
        _ run: FlowRun, claimedAt: ContinuousClock.Instant, events: AsyncStream<RunSupervision.Event>, postEvent: AsyncStream<RunSupervision.Event>.Continuation, logger: Logger
    ) async -> CrashedHooks? {
        let prepared: PreparedRun
        do {
            prepared = try await prepare(run, logger: logger)
        } catch let skip as RunSkipped {
            logger.notice("not starting flow run: \(skip.reason)")
            await propose(skip.proposal, for: run, logger: logger)
            return nil
        } catch {
            let proposal = FinalStateDecision.spawnFailed("\(error)")
            logger.error("flow run cannot start: \(error)")
            await propose(proposal, for: run, logger: logger)
            return nil
        }
        return await launch(prepared, claimedAt: claimedAt, events: events, postEvent: postEvent, logger: logger)
    }

    // MARK: - Claim

    /// How a claim ended.
    enum ClaimOutcome: Equatable {
        case won
        /// Not ours (another worker has it, or a server rule said no); `serverDelay` is a WAIT's delay.
        case refused(serverDelay: Double?, refusal: ClaimBackoff.Refusal = .other)
        case deploymentMissing
        /// Not ours, but an earlier attempt went unanswered: it may still land (`LateAttemptCheck`).
        case unsettled(transitionId: String)
    }

    /// Proposes PENDING/"Pending"; `.won` only when the server gave the run to this worker. The
    /// claim is never re-sent blindly: when an answer is lost, the run is read back first, and the
    /// claim is proposed again (same transition id) only while the run is still SCHEDULED.
    private func claim(_ run: FlowRun, logger: Logger) async -> ClaimOutcome {
        let transitionId = UUID().uuidString.lowercased()
        // Written before the proposal: a worker killed right after the server took the claim
        // still finds the run on its restart (README, "Restart recovery").
        var claimed = ledgerEntry(for: run, phase: .claimed)
        claimed.claimTransitionId = transitionId
        await ledger?.record(claimed)
        var attempt = 0
        // Once an attempt went unanswered, giving up does not settle the claim.
        func givenUp(_ refused: ClaimOutcome) -> ClaimOutcome { attempt > 0 ? .unsettled(transitionId: transitionId) : refused }
        while !Task.isCancelled {
            do {
                let answer = try await api.setStateOnce(
                    flowRunId: run.id, proposal: .claim, transitionId: transitionId, unanswered: { [self] in await noteStray(transitionId, of: run.id) })
                switch ClaimDecision(answer: answer, transitionId: transitionId) {
                case .launch:
                    return .won
                case .skip(let reason):
                    logger.info("flow run not claimed: \(reason)")
                    return .refused(
                        serverDelay: answer.status == .wait ? answer.details?.delaySeconds : nil, refusal: ClaimBackoff.Refusal(answer: answer))
                case .deploymentMissing:
                    logger.notice("flow run not claimed: the server says its deployment was not found")
                    return .deploymentMissing
                case .restorePrevious:
                    return await claimLandedOnScheduledRun(run, claimedWith: transitionId, logger: logger)
                }
            } catch let error as PrefectAPIError where error.isRetryable {
                attempt += 1
                logger.warning("claim not answered (attempt \(attempt)); reading the run back before trying again: \(error)")
                try? await clock.sleep(seconds: RetryPolicy.claimReadBack.backoff(afterFailures: attempt))
                guard !(await registry.isStopping) else { return givenUp(.refused(serverDelay: nil)) }
                guard let current = await untilAnswered("read the flow run", logger: logger, { try await api.readFlowRun(id: run.id) })
                else { return givenUp(.refused(serverDelay: nil)) }
                switch ClaimDecision.afterUnansweredClaim(current: current.state, transitionId: transitionId) {
                case .launch:
                    return .won
                case .restorePrevious:
                    return await claimLandedOnScheduledRun(run, claimedWith: transitionId, logger: logger)
                case .proposeAgain:
                    continue
                case .skip(let reason):
                    logger.info("flow run not claimed: \(reason)")
                    return givenUp(.refused(serverDelay: nil))
                }
            } catch {
                logger.warning("could not claim flow run; leaving it for a later poll: \(error)")
                return givenUp(.refused(serverDelay: nil))
            }
        }
        return givenUp(.refused(serverDelay: nil))
    }

    /// Our accepted PENDING carries no scheduled time, so the run was probably not SCHEDULED when the
    /// claim landed (a stale poll result: another worker had already run it). The history decides:
    /// if the state before ours was SCHEDULED after all, the run is ours (true); otherwise the state
    /// it had is put back, so the run is neither run twice nor left PENDING (false).
    private func claimLandedOnScheduledRun(_ run: FlowRun, claimedWith transitionId: String, logger: Logger) async -> ClaimOutcome {
        guard let previous = await stateBefore(transitionId, of: run, logger: logger) else {
            logger.error("claimed a run whose previous state cannot be found; not starting it")
            return .refused(serverDelay: nil)
        }
        if previous.type == .scheduled { return .won }
        logger.warning("claim landed on a run that had already left SCHEDULED (stale poll); restoring its \(previous.name) state")
        await propose(previous, for: run, logger: logger)
        return .refused(serverDelay: nil)
    }

    /// Puts back the state a run had before the proposal sent with `transitionId` landed on it.
    func restoreStateBefore(_ transitionId: String, of run: FlowRun, logger: Logger) async {
        guard let previous = await stateBefore(transitionId, of: run, logger: logger) else {
            logger.error("a state of the flow run set late by this worker's request cannot be undone: its previous state cannot be found")
            return
        }
        logger.warning("a request of this worker reached the server after the run had moved on; restoring its \(previous.name) state")
        await propose(previous, for: run, logger: logger)
    }

    /// The state the run had before the one set with `transitionId`, from its history.
    private func stateBefore(_ transitionId: String, of run: FlowRun, logger: Logger) async -> StateProposal? {
        let history = await untilAnswered("read the flow run's history", logger: logger, {
            try await api.stateHistory(flowRunId: run.id)
        })
        return history.flatMap { StateRestoration.previousState(in: $0, before: transitionId) }
    }

    // MARK: - Final state

    /// Proposes `proposal` until the server answers: a run this worker holds must reach its state
    /// even when the server is away for a while. The same transition id is used on every retry.
    @discardableResult
    func propose(_ proposal: StateProposal, for run: FlowRun, logger: Logger) async -> OrchestrationResult? {
        let transitionId = UUID().uuidString.lowercased()
        let unanswered: UnansweredAttempt = { [self] in await noteStray(transitionId, of: run.id) }
        let answer: OrchestrationResult?
        if HandingOnProposal.readsBackBeforeRetrying(proposal) {
            answer = await proposeReadingBack(proposal, for: run, transitionId: transitionId, unanswered: unanswered, logger: logger)
        } else {
            answer = await untilAnswered("report \(proposal.type.rawValue)", logger: logger) {
                try await api.setState(flowRunId: run.id, proposal: proposal, transitionId: transitionId, unanswered: unanswered)
                    .landed(transitionId: transitionId)
            }
        }
        if let answer {
            if answer.status == .accept { await registry.noteState(run.id, proposal.type) }
            if let state = answer.state { await registry.noteState(run.id, state.type) }
            let now = answer.state.map { $0.name ?? $0.type.defaultName } ?? "unknown"
            logger.info(
                "proposed \(proposal.type.rawValue): \(answer.status.rawValue)",
                metadata: ["state_message": "\(proposal.message ?? "")", "state_now": "\(now)"])
        }
        return answer
    }

    /// A proposal that hands the run on (`HandingOnProposal`): sent once per attempt. After an
    /// attempt that may still land, the worker waits until it no longer can (`lateRequestSeconds`;
    /// meanwhile the run stays as it was, so nobody else takes it), then reads the run's history:
    /// landed, it is taken as accepted (the run may be another worker's by now); not landed, it is
    /// sent again, and the one held can no longer land after it.
    private func proposeReadingBack(
        _ proposal: StateProposal, for run: FlowRun, transitionId: String, unanswered: @escaping UnansweredAttempt, logger: Logger
    ) async -> OrchestrationResult? {
        var attempt = 0
        while !Task.isCancelled {
            do {
                return try await api.setStateOnce(flowRunId: run.id, proposal: proposal, transitionId: transitionId, unanswered: unanswered)
                    .landed(transitionId: transitionId)
            } catch let error as PrefectAPIError where error.isRetryable {
                attempt += 1
                guard error.mayStillLand else {
                    logger.warning("could not report \(proposal.type.rawValue) yet (attempt \(attempt)); will retry: \(error)")
                    try? await clock.sleep(seconds: RetryPolicy.untilAnswered.backoff(afterFailures: attempt))
                    continue
                }
                logger.warning(
                    "\(proposal.type.rawValue) not answered (attempt \(attempt)); reading the run's history once the attempt can no longer land: \(error)",
                    metadata: ["in_s": "\(Int(lateRequestSeconds))"])
                try? await clock.sleep(seconds: lateRequestSeconds)
                guard let history = await untilAnswered("read the flow run's history", logger: logger, {
                    try await api.stateHistory(flowRunId: run.id)
                }) else { return nil }
                if HandingOnProposal.landed(transitionId, in: history) {
                    return OrchestrationResult(status: .accept)
                }
            } catch {
                logger.error("could not report \(proposal.type.rawValue): \(error)")
                return nil
            }
        }
        return nil
    }

    /// A proposal of the run had an attempt go unanswered: it may still land (`LateAttemptCheck`).
    func noteStray(_ transitionId: String, of flowRunId: String) async {
        strays.note(transitionId, of: flowRunId)
        await ledger?.noteStray(transitionId, of: flowRunId)
    }

    /// Runs `call` until it succeeds or fails for a reason a retry cannot fix (nil then). The API
    /// client already retries with backoff; this outer loop covers outages longer than that.
    func untilAnswered<T: Sendable>(
        _ what: String, logger: Logger, _ call: @Sendable () async throws -> T
    ) async -> T? {
        var attempt = 0
        while !Task.isCancelled {
            do {
                return try await call()
            } catch let error as PrefectAPIError where error.isRetryable {
                attempt += 1
                logger.warning("could not \(what) yet (attempt \(attempt)); will retry: \(error)")
                try? await clock.sleep(seconds: RetryPolicy.untilAnswered.backoff(afterFailures: attempt))
            } catch {
                logger.error("could not \(what): \(error)")
                return nil
            }
        }
        return nil
    }
}

/// A run that must not be started, and the state it gets instead.
struct RunSkipped: Error {
    let reason: String
    let proposal: StateProposal
}
