import Logging
import Systemd
import Testing

@Suite struct JournalFieldsTests {
    @Test(arguments: [
        ("flow_run_id", "PREFECT_FLOW_RUN_ID"),
        ("flow_run_name", "PREFECT_FLOW_RUN_NAME"),
        ("deployment_id", "PREFECT_DEPLOYMENT_ID"),
        ("work_pool", "PREFECT_WORK_POOL"),
        ("worker_name", "PREFECT_WORKER_NAME"),
        ("pid", "PREFECT_PID"),
        ("stream", "PREFECT_STREAM"),
        ("prefect_already", "PREFECT_ALREADY"),
        ("api-url.v2", "PREFECT_API_URL_V2"),
        ("ünïcode key", "PREFECT__N_CODE_KEY"),
    ])
    func metadataKeysBecomeUpperCasePrefixedFieldNames(_ key: String, _ expected: String) {
        #expect(JournalFields.name(forMetadataKey: key) == expected)
    }

    @Test func fieldNamesStayWithinJournaldsLimit() {
        let name = JournalFields.name(forMetadataKey: String(repeating: "k", count: 100))
        #expect(name.count == 64)
        #expect(name.hasPrefix("PREFECT_KKK"))
    }

    @Test(arguments: [
        (Logger.Level.trace, 7), (.debug, 7), (.info, 6), (.notice, 5), (.warning, 4), (.error, 3), (.critical, 2),
    ])
    func levelsBecomeSyslogPriorities(_ level: Logger.Level, _ priority: Int) {
        #expect(JournalFields.priority(level) == priority)
    }

    @Test func anEntryCarriesMessagePriorityIdentifierCodeLocationAndSortedMetadata() {
        let fields = JournalFields.entry(
            message: "hello", level: .notice, identifier: "prefect-worker", file: "A.swift", line: 12, function: "f()",
            metadata: ["stream": "stderr", "flow_run_id": "id-1"])
        #expect(fields.map(\.name) == [
            "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "CODE_FILE", "CODE_LINE", "CODE_FUNC", "PREFECT_FLOW_RUN_ID",
            "PREFECT_STREAM",
        ])
        #expect(fields.map(\.value) == ["hello", "5", "prefect-worker", "A.swift", "12", "f()", "id-1", "stderr"])
    }
}
