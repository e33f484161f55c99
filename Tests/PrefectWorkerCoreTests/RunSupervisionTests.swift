import PrefectWorkerCore
import Testing

/// One script of events against a fresh machine, and every action it must return, in order.
struct SupervisionCase: Sendable, CustomTestStringConvertible {
    var name: String
    var reporting: StateReporting = .engine
    var timeout: Double? = nil
    var cancelledBeforeStart = false
    var stoppingBeforeStart = false
    /// Each event with the second it happens at.
    var events: [(RunSupervision.Event, Double)] = []
    var actions: [RunSupervision.Action]
    var testDescription: String { name }
}

private typealias A = RunSupervision.Action
private let grace = 30.0
private let wait = OrchestrationResult(status: .wait, details: .init(delaySeconds: 5))
private let accept = OrchestrationResult(status: .accept, state: .init(type: .running))
private let sigterm = TeardownPlan.sigterm
private let sigkill = TeardownPlan.sigkill

private func stopped(_ reason: StopReason, signal: Int32, after seconds: Double, acknowledged: Bool? = nil, leftovers: Int = 0) -> A {
    .finish(
        .stopped(
            reason,
            TeardownReport(finalSignal: signal, secondsToExit: seconds, grace: grace, engineAcknowledged: acknowledged, leftoversKilled: leftovers)))
}

private let supervisionCases: [SupervisionCase] = [
    // Plain exits.
    SupervisionCase(
        name: "engine run exits", events: [(.serverReachable, 0), (.spawned, 0), (.processExited(.exited(code: 0)), 5), (.leftoversSwept(count: 0), 5)],
        actions: [.awaitServer, .spawn, .sweepLeftovers, .finish(.exited(.exited(code: 0)))]),
    SupervisionCase(
        name: "command proposes RUNNING, then exits", reporting: .worker,
        events: [(.runningAnswered(accept), 0), (.spawned, 0), (.processExited(.exited(code: 3)), 1), (.leftoversSwept(count: 2), 1)],
        actions: [.proposeRunning, .spawn, .sweepLeftovers, .finish(.exited(.exited(code: 3)))]),
    SupervisionCase(
        name: "exit before the timeout cancels its timer", timeout: 60,
        events: [(.serverReachable, 0), (.spawned, 0), (.processExited(.signaled(signal: 9)), 5), (.leftoversSwept(count: 0), 5)],
        actions: [.awaitServer, .spawn, .startTimer(.timeout, seconds: 60), .cancelTimer(.timeout), .sweepLeftovers, .finish(.exited(.signaled(signal: 9)))]),
    SupervisionCase(
        name: "spawn fails", events: [(.serverReachable, 0), (.spawnFailed("no such file"), 0)],
        actions: [.awaitServer, .spawn, .finishNotStarted(.spawnFailed("no such file"))]),

    // Before the process exists.
    SupervisionCase(name: "cancelled while being prepared", cancelledBeforeStart: true, actions: [.finishNotStarted(.cancelled)]),
    SupervisionCase(name: "stop while being prepared", stoppingBeforeStart: true, actions: [.finishNotStarted(.handedBack)]),
    SupervisionCase(
        name: "cancel and stop while being prepared: cancelled, not handed back", cancelledBeforeStart: true, stoppingBeforeStart: true,
        actions: [.finishNotStarted(.cancelled)]),
    SupervisionCase(
        name: "cancel while waiting for the server", events: [(.cancelRequested, 3), (.serverReachable, 4)],
        actions: [.awaitServer, .finishNotStarted(.cancelled)]),
    SupervisionCase(
        name: "stop while waiting for the server", events: [(.workerStopping, 3), (.cancelRequested, 4)],
        actions: [.awaitServer, .finishNotStarted(.handedBack)]),
    SupervisionCase(
        name: "WAIT, then RUNNING accepted", reporting: .worker,
        events: [(.runningAnswered(wait), 0), (.timerFired(.runningWait), 5), (.runningAnswered(accept), 5), (.spawned, 5)],
        actions: [.proposeRunning, .startTimer(.runningWait, seconds: 5), .proposeRunning, .spawn]),
    SupervisionCase(
        name: "WAIT without a delay waits a second", reporting: .worker, events: [(.runningAnswered(.init(status: .wait)), 0)],
        actions: [.proposeRunning, .startTimer(.runningWait, seconds: 1)]),
    SupervisionCase(
        name: "cancel during WAIT ends it at once", reporting: .worker,
        events: [(.runningAnswered(wait), 0), (.cancelRequested, 2), (.timerFired(.runningWait), 5)],
        actions: [.proposeRunning, .startTimer(.runningWait, seconds: 5), .cancelTimer(.runningWait), .finishNotStarted(.cancelled)]),
    SupervisionCase(
        name: "stop during WAIT hands the run back", reporting: .worker, events: [(.runningAnswered(wait), 0), (.workerStopping, 2)],
        actions: [.proposeRunning, .startTimer(.runningWait, seconds: 5), .cancelTimer(.runningWait), .finishNotStarted(.handedBack)]),
    SupervisionCase(
        name: "cancel while RUNNING is on its way", reporting: .worker, events: [(.cancelRequested, 0), (.runningAnswered(accept), 1)],
        actions: [.proposeRunning, .finishNotStarted(.cancelled)]),
    SupervisionCase(
        name: "stop while RUNNING is on its way", reporting: .worker, events: [(.workerStopping, 0), (.runningAnswered(accept), 1)],
        actions: [.proposeRunning, .finishNotStarted(.handedBack)]),
    SupervisionCase(
        name: "RUNNING rejected", reporting: .worker,
        events: [(.runningAnswered(.init(status: .reject, state: .init(type: .completed), details: .init(reason: "already done"))), 0)],
        actions: [.proposeRunning, .finishNotStarted(.runningRefused(.reject, reason: "already done", cancelling: false))]),
    SupervisionCase(
        name: "RUNNING aborted on a CANCELLING run", reporting: .worker,
        events: [(.runningAnswered(.init(status: .abort, state: .init(type: .cancelling))), 0)],
        actions: [.proposeRunning, .finishNotStarted(.runningRefused(.abort, reason: "", cancelling: true))]),
    SupervisionCase(
        name: "RUNNING never answered", reporting: .worker, events: [(.runningAnswered(nil), 0)],
        actions: [.proposeRunning, .finishNotStarted(.runningUnanswered)]),

    // Cancellation of a running engine.
    SupervisionCase(
        name: "engine acknowledges the intent: SIGTERM and grace",
        events: [
            (.serverReachable, 0), (.spawned, 0), (.cancelRequested, 10), (.intentAnswered(acknowledged: true), 10.5),
            (.processExited(.exited(code: 0)), 12.5), (.leftoversSwept(count: 0), 12.5),
        ],
        actions: [
            .awaitServer, .spawn, .beginStop(.cancelled), .sendIntent(.cancel), .signalGroup(sigterm), .startTimer(.grace, seconds: grace),
            .cancelTimer(.grace), .sweepLeftovers, stopped(.cancelled, signal: sigterm, after: 2, acknowledged: true),
        ]),
    SupervisionCase(
        name: "engine not connected: SIGKILL at once",
        events: [
            (.serverReachable, 0), (.spawned, 0), (.cancelRequested, 1), (.intentAnswered(acknowledged: false), 1),
            (.processExited(.signaled(signal: 9)), 1), (.leftoversSwept(count: 0), 1),
        ],
        actions: [
            .awaitServer, .spawn, .beginStop(.cancelled), .sendIntent(.cancel), .signalGroup(sigkill), .sweepLeftovers,
            stopped(.cancelled, signal: sigkill, after: 0, acknowledged: false),
        ]),
    SupervisionCase(
        name: "exit while the intent is on its way",
        events: [
            (.serverReachable, 0), (.spawned, 0), (.cancelRequested, 1), (.processExited(.exited(code: 0)), 1.5),
            (.intentAnswered(acknowledged: false), 2), (.leftoversSwept(count: 0), 2),
        ],
        actions: [.awaitServer, .spawn, .beginStop(.cancelled), .sendIntent(.cancel), .sweepLeftovers, stopped(.cancelled, signal: 0, after: 0.5)]),
    SupervisionCase(
        name: "grace expires: SIGKILL, leftovers counted",
        events: [
            (.serverReachable, 0), (.spawned, 0), (.cancelRequested, 0), (.intentAnswered(acknowledged: true), 0),
            (.timerFired(.grace), 30), (.processExited(.signaled(signal: 9)), 30), (.leftoversSwept(count: 2), 31),
        ],
        actions: [
            .awaitServer, .spawn, .beginStop(.cancelled), .sendIntent(.cancel), .signalGroup(sigterm), .startTimer(.grace, seconds: grace),
            .signalGroup(sigkill), .sweepLeftovers, stopped(.cancelled, signal: sigkill, after: 30, acknowledged: true, leftovers: 2),
        ]),
    SupervisionCase(
        name: "exit during grace, then the grace timer fires late",
        reporting: .worker,
        events: [
            (.runningAnswered(accept), 0), (.spawned, 0), (.cancelRequested, 1), (.processExited(.exited(code: 143)), 2),
            (.timerFired(.grace), 31), (.leftoversSwept(count: 0), 31),
        ],
        actions: [
            .proposeRunning, .spawn, .beginStop(.cancelled), .signalGroup(sigterm), .startTimer(.grace, seconds: grace), .cancelTimer(.grace),
            .sweepLeftovers, stopped(.cancelled, signal: sigterm, after: 1),
        ]),

    // Timeout, and what comes after it.
    SupervisionCase(
        name: "timeout, then a cancel: the timeout stays the reason", timeout: 60,
        events: [
            (.serverReachable, 0), (.spawned, 0), (.timerFired(.timeout), 60), (.cancelRequested, 61),
            (.processExited(.exited(code: 143)), 62), (.leftoversSwept(count: 0), 62),
        ],
        actions: [
            .awaitServer, .spawn, .startTimer(.timeout, seconds: 60), .beginStop(.timedOut(seconds: 60)), .signalGroup(sigterm),
            .startTimer(.grace, seconds: grace), .cancelTimer(.grace), .sweepLeftovers, stopped(.timedOut(seconds: 60), signal: sigterm, after: 2),
        ]),
    SupervisionCase(
        name: "cancel, then the timeout: the timer was cancelled and a late fire changes nothing", timeout: 60,
        events: [
            (.serverReachable, 0), (.spawned, 0), (.cancelRequested, 59), (.intentAnswered(acknowledged: true), 59),
            (.timerFired(.timeout), 60), (.processExited(.exited(code: 0)), 61), (.leftoversSwept(count: 0), 61),
        ],
        actions: [
            .awaitServer, .spawn, .startTimer(.timeout, seconds: 60), .beginStop(.cancelled), .cancelTimer(.timeout), .sendIntent(.cancel),
            .signalGroup(sigterm), .startTimer(.grace, seconds: grace), .cancelTimer(.grace), .sweepLeftovers,
            stopped(.cancelled, signal: sigterm, after: 2, acknowledged: true),
        ]),

    // The worker stops.
    SupervisionCase(
        name: "stop of a running engine: the reschedule intent, SIGTERM once acknowledged, a cancel after it changes nothing",
        events: [
            (.serverReachable, 0), (.spawned, 0), (.workerStopping, 5), (.intentAnswered(acknowledged: true), 5), (.cancelRequested, 6),
            (.concluded(.delegated(.reschedule)), 6), (.processExited(.exited(code: 0)), 7), (.leftoversSwept(count: 0), 7),
        ],
        actions: [
            .awaitServer, .spawn, .beginStop(.workerStopped), .sendIntent(.reschedule), .signalGroup(sigterm),
            .startTimer(.grace, seconds: grace), .cancelTimer(.grace), .sweepLeftovers,
            .finish(
                .stopped(.workerStopped, TeardownReport(finalSignal: sigterm, secondsToExit: 2, grace: grace, engineAcknowledged: true)),
                conclusion: .delegated(.reschedule)),
        ]),
    SupervisionCase(
        name: "stop of an engine that does not acknowledge: killed at once (it reports nothing, the worker reschedules)",
        events: [
            (.serverReachable, 0), (.spawned, 0), (.workerStopping, 5), (.intentAnswered(acknowledged: false), 6),
            (.processExited(.signaled(signal: 9)), 6), (.leftoversSwept(count: 0), 6),
        ],
        actions: [
            .awaitServer, .spawn, .beginStop(.workerStopped), .sendIntent(.reschedule), .signalGroup(sigkill), .sweepLeftovers,
            stopped(.workerStopped, signal: sigkill, after: 0, acknowledged: false),
        ]),
    SupervisionCase(
        name: "stop of a running command: SIGTERM without an intent", reporting: .worker,
        events: [
            (.runningAnswered(accept), 0), (.spawned, 0), (.workerStopping, 5), (.processExited(.exited(code: 1)), 7),
            (.leftoversSwept(count: 0), 7),
        ],
        actions: [
            .proposeRunning, .spawn, .beginStop(.workerStopped), .signalGroup(sigterm), .startTimer(.grace, seconds: grace),
            .cancelTimer(.grace), .sweepLeftovers, stopped(.workerStopped, signal: sigterm, after: 2),
        ]),
    SupervisionCase(
        name: "a second stop or cancel is not a second teardown",
        events: [
            (.serverReachable, 0), (.spawned, 0), (.workerStopping, 1), (.intentAnswered(acknowledged: true), 1), (.workerStopping, 2),
            (.cancelRequested, 2), (.cancelRequested, 3),
        ],
        actions: [.awaitServer, .spawn, .beginStop(.workerStopped), .sendIntent(.reschedule), .signalGroup(sigterm), .startTimer(.grace, seconds: grace)]),

    // The engine's receipt.
    SupervisionCase(
        name: "a receipt before the exit goes with the outcome",
        events: [
            (.serverReachable, 0), (.spawned, 0), (.concluded(.stateReported(type: "COMPLETED", name: "Completed")), 4),
            (.processExited(.exited(code: 0)), 5), (.leftoversSwept(count: 0), 5),
        ],
        actions: [
            .awaitServer, .spawn, .sweepLeftovers,
            .finish(.exited(.exited(code: 0)), conclusion: .stateReported(type: "COMPLETED", name: "Completed")),
        ]),
    SupervisionCase(
        name: "the first conclusion is kept",
        events: [
            (.serverReachable, 0), (.spawned, 0), (.concluded(.orchestrationAborted), 4),
            (.concluded(.stateReported(type: "FAILED", name: "Failed")), 4), (.processExited(.exited(code: 1)), 5), (.leftoversSwept(count: 0), 5),
        ],
        actions: [.awaitServer, .spawn, .sweepLeftovers, .finish(.exited(.exited(code: 1)), conclusion: .orchestrationAborted)]),
    SupervisionCase(
        name: "an engine that concluded as the cancel came counts as acknowledged: SIGTERM, and its receipt decides",
        events: [
            (.serverReachable, 0), (.spawned, 0), (.concluded(.stateReported(type: "COMPLETED", name: "Completed")), 3),
            (.cancelRequested, 3), (.intentAnswered(acknowledged: true), 3), (.processExited(.exited(code: 0)), 3.5),
            (.leftoversSwept(count: 0), 3.5),
        ],
        actions: [
            .awaitServer, .spawn, .beginStop(.cancelled), .sendIntent(.cancel), .signalGroup(sigterm), .startTimer(.grace, seconds: grace),
            .cancelTimer(.grace), .sweepLeftovers,
            .finish(
                .stopped(.cancelled, TeardownReport(finalSignal: sigterm, secondsToExit: 0.5, grace: grace, engineAcknowledged: true)),
                conclusion: .stateReported(type: "COMPLETED", name: "Completed")),
        ]),
    SupervisionCase(
        name: "a timeout offers no intent (the engine reports CRASHED itself)", timeout: 10,
        events: [(.serverReachable, 0), (.spawned, 0), (.timerFired(.timeout), 10), (.processExited(.signaled(signal: 15)), 11), (.leftoversSwept(count: 0), 11)],
        actions: [
            .awaitServer, .spawn, .startTimer(.timeout, seconds: 10), .beginStop(.timedOut(seconds: 10)), .signalGroup(sigterm),
            .startTimer(.grace, seconds: grace), .cancelTimer(.grace), .sweepLeftovers, stopped(.timedOut(seconds: 10), signal: sigterm, after: 1),
        ]),
    SupervisionCase(
        name: "nothing after the end", events: [(.serverReachable, 0), (.spawnFailed("x"), 0), (.cancelRequested, 1), (.processExited(.unknown), 1)],
        actions: [.awaitServer, .spawn, .finishNotStarted(.spawnFailed("x"))]),
]

@Suite struct RunSupervisionTests {
    @Test(arguments: supervisionCases)
    func script(_ row: SupervisionCase) {
        var machine = RunSupervision(reporting: row.reporting, timeoutSeconds: row.timeout, grace: grace)
        var actions = machine.start(cancelRequested: row.cancelledBeforeStart, stopping: row.stoppingBeforeStart)
        for (event, second) in row.events {
            actions += machine.handle(event, at: .milliseconds(Int64(second * 1000)))
        }
        #expect(actions == row.actions)
        let finished = actions.contains { if case .finish = $0 { true } else if case .finishNotStarted = $0 { true } else { false } }
        #expect(machine.isDone == finished)
    }

    /// Whatever happens, exactly one finishing action is returned, and it is the last one.
    @Test func everyScriptEndsOnce() {
        let events: [RunSupervision.Event] = [
            .cancelRequested, .workerStopping, .runningAnswered(accept), .runningAnswered(wait), .serverReachable, .spawned,
            .timerFired(.runningWait), .timerFired(.timeout), .timerFired(.grace), .intentAnswered(acknowledged: true),
            .concluded(.orchestrationAborted), .processExited(.exited(code: 0)), .leftoversSwept(count: 1),
        ]
        for reporting in [StateReporting.engine, .worker] {
            for first in events.indices {
                for second in events.indices {
                    var machine = RunSupervision(reporting: reporting, timeoutSeconds: 10, grace: grace)
                    var actions = machine.start(cancelRequested: false, stopping: false)
                    // A first disturbance, then every event in order, twice: the machine must end.
                    for event in [events[first], events[second]] + events + events {
                        actions += machine.handle(event, at: .seconds(1))
                    }
                    let finishing = actions.indices.filter {
                        if case .finish = actions[$0] { true } else if case .finishNotStarted = actions[$0] { true } else { false }
                    }
                    #expect(finishing.count == 1, "\(reporting) \(events[first]) \(events[second])")
                    #expect(finishing.first == actions.count - 1)
                }
            }
        }
    }
}
