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

    @Test func theServiceManagersVariablesNeverReachAChild() {
        let worker = [
            "NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "1",
            "JOURNAL_STREAM": "8:1234", "LISTEN_FDS": "1", "PATH": "/usr/bin", "INVOCATION_ID": "abc",
        ]
        let env = ChildEnvironment.inheritable(from: worker, passCredentials: true)
        #expect(env == ["PATH": "/usr/bin", "INVOCATION_ID": "abc"])
    }

    @Test func credentialsAreInheritedOnlyWhenPassed() {
        let worker = [
            "PREFECT_API_KEY": "pnu_secret", "PREFECT_API_AUTH_STRING": "a:b", "CREDENTIALS_DIRECTORY": "/run/credentials/x",
            "HOME": "/root",
        ]
        #expect(ChildEnvironment.inheritable(from: worker, passCredentials: false) == ["HOME": "/root"])
        #expect(ChildEnvironment.inheritable(from: worker, passCredentials: true) == worker)
    }

    @Test func theCredentialFilesAndHeadersStayOutUnlessPassed() {
        let worker = [
            "PREFECT_API_KEY_FILE": "/etc/prefect-worker/key", "PREFECT_API_AUTH_STRING_FILE": "/etc/a",
            "PREFECT_CLIENT_CUSTOM_HEADERS": "{\"X-Token\": \"t\"}", "PREFECT_CLIENT_CUSTOM_HEADERS_FILE": "/etc/h", "LANG": "C",
        ]
        #expect(ChildEnvironment.inheritable(from: worker, passCredentials: false) == ["LANG": "C"])
        #expect(ChildEnvironment.inheritable(from: worker, passCredentials: true) == worker)
    }

    @Test func theAllowAndDenyListsDecideWhatElseIsInherited() {
        let worker = ["PATH": "/usr/bin", "HOME": "/root", "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": "eu", "LC_ALL": "C"]
        let denyAWS = ChildEnvironment.Policy(deny: ["AWS_*"])
        #expect(ChildEnvironment.inheritable(from: worker, passCredentials: true, policy: denyAWS)
            == ["PATH": "/usr/bin", "HOME": "/root", "LC_ALL": "C"])
        let allowSome = ChildEnvironment.Policy(allow: ["PATH", "LC_*", "AWS_*"], deny: ["*SECRET*"])
        #expect(ChildEnvironment.inheritable(from: worker, passCredentials: true, policy: allowSome)
            == ["PATH": "/usr/bin", "LC_ALL": "C", "AWS_REGION": "eu"])
        #expect(ChildEnvironment.Policy.patterns(" PATH, LC_* ,,") == ["PATH", "LC_*"])
        #expect(ChildEnvironment.Policy.patterns(nil) == [])
    }
}

@Suite struct CredentialPassingTests {
    @Test(arguments: [
        // (setting, reporting, has credentials, delivery)
        ("auto", StateReporting.engine, true, CredentialPassing.Delivery.profileFile),
        ("auto", .worker, true, .none),
        ("auto", .engine, false, .none),
        ("always", .engine, true, .environment),
        ("always", .worker, true, .environment),
        ("true", .worker, true, .environment),
        ("never", .engine, true, .none),
        ("false", .engine, true, .none),
    ])
    func delivery(setting: String, reporting: StateReporting, hasCredentials: Bool, expected: CredentialPassing.Delivery) throws {
        let passing = try #require(CredentialPassing(setting: setting))
        #expect(passing.delivery(reporting: reporting, hasCredentials: hasCredentials) == expected)
    }

    @Test func anUnknownValueIsRefused() {
        #expect(CredentialPassing(setting: "sometimes") == nil)
    }

    @Test func theRunProfileIsPrefectsFormatAndReadsBack() throws {
        let text = RunProfile.text(settings: ["PREFECT_API_URL": "http://127.0.0.1:4200/api", "PREFECT_API_KEY": "k\"ey\\1"])
        #expect(text == """
            active = "prefect-worker-run"

            [profiles.prefect-worker-run]
            PREFECT_API_KEY = "k\\"ey\\\\1"
            PREFECT_API_URL = "http://127.0.0.1:4200/api"

            """)
        let files = try PrefectSettingsFiles.read(
            dotEnv: nil, prefectToml: nil, profiles: .init(path: "/r/profiles.toml", text: text), profilesPath: "/r/profiles.toml",
            requested: .init(name: RunProfile.name, label: "PREFECT_PROFILE", isFlag: false))
        #expect(files.profileValues["PREFECT_API_KEY"] == "k\"ey\\1")
        #expect(RunProfile.environment(path: "/r/profiles.toml") == ["PREFECT_PROFILES_PATH": "/r/profiles.toml", "PREFECT_PROFILE": "prefect-worker-run"])
    }
}
