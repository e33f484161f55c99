import PrefectWorkerCore
import Testing

@Suite struct ChildEnvironmentTests {
    let run = ChildEnvironment.RunIdentity(
        flowRunId: "run-1", flowId: "flow-1", flowName: "etl", deploymentId: "dep-1", deploymentName: "nightly",
        workerName: "w1")

    @Test func precedenceFromWorkerToRunId() {
        let env = ChildEnvironment.build(
            workerEnvironment: [
                "ONLY_WORKER": "worker", "SETTING": "worker", "PREFECT__FLOW_NAME": "worker", "JOB": "worker",
                "PREFECT__FLOW_RUN_ID": "worker",
            ],
            settings: ["SETTING": "settings", "PREFECT__WORKER_NAME": "settings", "JOB": "settings"],
            run: run,
            jobEnv: ["JOB": "job", "PREFECT__DEPLOYMENT_NAME": "job", "PREFECT__FLOW_RUN_ID": "job"])
        #expect(env["ONLY_WORKER"] == "worker")
        #expect(env["SETTING"] == "settings")  // settings > worker
        #expect(env["PREFECT__FLOW_NAME"] == "etl")  // attribution > worker
        #expect(env["PREFECT__WORKER_NAME"] == "w1")  // attribution > settings
        #expect(env["JOB"] == "job")  // job env > settings
        #expect(env["PREFECT__DEPLOYMENT_NAME"] == "job")  // job env > attribution
        #expect(env["PREFECT__FLOW_RUN_ID"] == "run-1")  // run id > everything
    }

    @Test func nilJobValueRemovesAnInheritedVariable() {
        let env = ChildEnvironment.build(
            workerEnvironment: ["SECRET": "x", "KEEP": "y"], settings: ["FROM_SETTINGS": "z"], run: run,
            jobEnv: ["SECRET": nil, "FROM_SETTINGS": nil])
        #expect(env["SECRET"] == nil)
        #expect(env["FROM_SETTINGS"] == nil)
        #expect(env["KEEP"] == "y")
    }

    @Test func attributionVariablesWhenGiven() {
        let env = ChildEnvironment.build(workerEnvironment: [:], settings: [:], run: run, jobEnv: [:])
        #expect(env == [
            "PREFECT__FLOW_RUN_ID": "run-1", "PREFECT__FLOW_ID": "flow-1", "PREFECT__FLOW_NAME": "etl",
            "PREFECT__DEPLOYMENT_ID": "dep-1", "PREFECT__DEPLOYMENT_NAME": "nightly", "PREFECT__WORKER_NAME": "w1",
        ])
    }

    @Test func attributionVariablesAbsentWhenNil() {
        let bare = ChildEnvironment.RunIdentity(flowRunId: "run-2", workerName: "w2")
        let env = ChildEnvironment.build(workerEnvironment: [:], settings: [:], run: bare, jobEnv: [:])
        #expect(env == ["PREFECT__FLOW_RUN_ID": "run-2", "PREFECT__WORKER_NAME": "w2"])
    }
}
