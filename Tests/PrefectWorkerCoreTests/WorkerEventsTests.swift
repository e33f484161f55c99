import Foundation
import PrefectWorkerCore
import Testing

@Suite struct WorkerEventsTests {
    let events = WorkerEvents(workerName: "ProcessWorker 7f3e-AB", poolId: "pool-1", poolName: "my pool", version: "3.8.8")
    let at = Date(timeIntervalSince1970: 1_795_445_716)
    let run = WorkerEvents.Run(
        flowRunId: "fr-1", flowRunName: "brave-fox", flowId: "f-1", flowName: "demo", deploymentId: "d-1",
        deploymentName: "dep", tags: ["etl"])

    @Test func workerResourceIsNamedAsPrefectNamesIt() {
        #expect(WorkerEvents.slug("ProcessWorker 7f3e-AB") == "processworker-7f3e-ab")
        #expect(WorkerEvents.slug("  my__worker!! ") == "my-worker")
        let started = events.started(id: "e-1", at: at)
        #expect(started["event"] == .string("prefect.worker.started"))
        #expect(started["resource"]?["prefect.resource.id"] == .string("prefect.worker.process.processworker-7f3e-ab"))
        #expect(started["resource"]?["prefect.worker-type"] == .string("process"))
        #expect(started["occurred"] == .string("2026-11-23T14:55:16.000000Z"))
        #expect(started["related"] == .array([.object([
            "prefect.resource.id": .string("prefect.work-pool.pool-1"), "prefect.resource.role": .string("work-pool"),
            "prefect.resource.name": .string("my pool"),
        ])]))
        #expect(started["follows"] == nil)
        #expect(events.stopped(id: "e-9", at: at, follows: "e-1")["follows"] == .string("e-1"))
    }

    @Test func executedNamesTheProcessAndFollowsTheSubmission() throws {
        let submitted = events.submitted(id: "e-2", at: at, run: run)
        let roles = submitted["related"].flatMap { value -> [String]? in
            guard case .array(let items) = value else { return nil }
            return items.compactMap { $0["prefect.resource.role"]?.stringValue }
        }
        #expect(roles == ["deployment", "flow", "flow-run", "tag", "work-pool"])
        let executed = events.executed(
            id: "e-3", at: at, run: run, pid: 4242, statusCode: ProcessExit.signaled(signal: 15).statusCode, follows: "e-2")
        #expect(executed["follows"] == .string("e-2"))
        guard case .array(let related) = try #require(executed["related"]) else { Issue.record("no related"); return }
        let flowRun = try #require(related.first { $0["prefect.resource.role"] == .string("flow-run") })
        #expect(flowRun["prefect.infrastructure.identifier"] == .string("4242"))
        #expect(flowRun["prefect.infrastructure.status-code"] == .string("-15"))
        #expect(flowRun["prefect.resource.name"] == .string("brave-fox"))
    }
}
