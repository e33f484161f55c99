import Logging
import PrefectWorkerCore
import Testing

@testable import PrefectWorker

@Suite struct PrefectAPILogHandlerTests {
    func logger(shipper: RunLogShipper, messageOnly: Bool = false) -> Logger {
        Logger(label: "test") { _ in
            PrefectAPILogHandler(shipper: shipper, name: FlowRunLog.workerLoggerName, messageOnly: messageOnly)
        }
    }

    @Test func onlyRecordsAboutARunAtInfoOrAboveAreShipped() {
        let shipper = RunLogShipper()
        var log = logger(shipper: shipper)
        log.info("not about a run")
        log[metadataKey: "flow_run_id"] = "run-1"
        log.debug("too detailed")
        log.notice("claimed flow run")
        log.error("flow run could not start: x")
        #expect(shipper.queued.map(\.message) == ["claimed flow run", "flow run could not start: x"])
        #expect(shipper.queued.map(\.level) == [20, 40])
        #expect(shipper.queued.allSatisfy { $0.flowRunId == "run-1" && $0.name == "prefect.flow_runs.worker" })
    }

    @Test func detailsFollowTheMessageWithoutTheRunsIdentity() {
        let shipper = RunLogShipper()
        var log = logger(shipper: shipper)
        for key in ["flow_run_id", "flow_run_name", "deployment_id", "work_pool", "worker_name"] {
            log[metadataKey: key] = "x"
        }
        log.info("started process", metadata: ["pid": "42", "command": "sh -c true"])
        #expect(shipper.queued.map(\.message) == ["started process (command=sh -c true, pid=42)"])
    }

    @Test func outputLinesGoAsTheyAre() {
        let shipper = RunLogShipper()
        var log = logger(shipper: shipper, messageOnly: true)
        log[metadataKey: "flow_run_id"] = "run-1"
        log.info("raw line", metadata: ["stream": "stdout", "pid": "7"])
        #expect(shipper.queued.map(\.message) == ["raw line"])
    }

    @Test func theQueueIsBoundedAndCountsWhatItDropped() {
        let shipper = RunLogShipper(maxQueued: 3)
        var log = logger(shipper: shipper)
        log[metadataKey: "flow_run_id"] = "run-1"
        for index in 1...5 { log.info("line \(index)") }
        #expect(shipper.queued.map(\.message) == ["line 3", "line 4", "line 5"])
        #expect(shipper.droppedCount == 2)
    }
}
