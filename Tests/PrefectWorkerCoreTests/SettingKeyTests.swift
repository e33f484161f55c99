import PrefectWorkerCore
import Testing

@Suite struct SettingKeyTests {
    static let numbers: [SettingKey<Double>] = [
        .apiRequestTimeout, .prefetchSeconds, .heartbeatSeconds, .querySeconds, .cancelGraceSeconds, .drainSeconds,
        .outputLinesPerSecond, .outputBurstLines, .healthPollIntervals, .clientRetryJitterFactor,
    ]
    static let optionalNumbers: [SettingKey<Double?>] = [.runTimeoutSeconds, .exitAfterIdle]
    static let integers: [SettingKey<Int?>] = [.limit, .maxRuns, .clientMaxRetries]
    static let booleans: [SettingKey<Bool>] = [
        .apiTlsInsecureSkipVerify, .clientCsrfSupportEnabled, .eventStream, .createPoolIfNotFound, .runOnce, .outputToAPI,
        .withHealthcheck, .withMetrics,
    ]
    static let texts: [SettingKey<String?>] = [
        .apiURL, .apiSslCertFile, .httpsProxy, .httpProxy, .pool, .name, .baseJobTemplate, .python, .stateDir, .webserverHost,
    ]
    static let lists: [SettingKey<[String]>] = [.workQueues, .noProxy, .envAllow, .envDeny]

    static var allKeys: [String] {
        numbers.map(\.key) + optionalNumbers.map(\.key) + integers.map(\.key) + booleans.map(\.key) + texts.map(\.key)
            + lists.map(\.key) + [SettingKey<Int>.webserverPort.key]
    }

    /// A misspelt key would fall back to nothing: every typed key is a row of the catalog.
    @Test func everyTypedKeyIsInTheCatalog() {
        for key in Self.allKeys {
            #expect(SettingsCatalog.setting(key) != nil, "\(key)")
        }
        #expect(Set(Self.allKeys).count == Self.allKeys.count)
    }

    /// The defaults come from the catalog's text, written once.
    @Test func defaultsAreTheCatalogs() {
        #expect(SettingKey<Double>.heartbeatSeconds.defaultValue == 30)
        #expect(SettingKey<Double>.querySeconds.defaultValue == 10)
        #expect(SettingKey<Double>.prefetchSeconds.defaultValue == 10)
        #expect(SettingKey<Double>.drainSeconds.defaultValue == 300)
        #expect(SettingKey<Double>.cancelGraceSeconds.defaultValue == 30)
        #expect(SettingKey<Double>.apiRequestTimeout.defaultValue == 60)
        #expect(SettingKey<Double>.healthPollIntervals.defaultValue == 30)
        #expect(SettingKey<Double>.clientRetryJitterFactor.defaultValue == 0.2)
        #expect(SettingKey<Int>.webserverPort.defaultValue == 8080)
        #expect(SettingKey<Int?>.limit.defaultValue == nil)
        #expect(SettingKey<Int?>.clientMaxRetries.defaultValue == 5)
        #expect(SettingKey<Double?>.runTimeoutSeconds.defaultValue == nil)
        #expect(SettingKey<Bool>.eventStream.defaultValue == true)
        #expect(SettingKey<Bool>.runOnce.defaultValue == false)
        #expect(SettingKey<Bool>.createPoolIfNotFound.defaultValue == true)
        #expect(SettingKey<String?>.webserverHost.defaultValue == "127.0.0.1")
        #expect(SettingKey<String?>.pool.defaultValue == nil)
        #expect(SettingKey<[String]>.workQueues.defaultValue == [])
        for key in Self.numbers { _ = key.defaultValue }
        for key in Self.booleans { _ = key.defaultValue }
    }

    @Test(arguments: [
        ("30", 30.0), (" 2.5 ", 2.5), ("0", nil), ("-1", nil), ("inf", nil), ("soon", nil),
    ] as [(String, Double?)])
    func seconds(_ text: String, _ expected: Double?) {
        #expect(SettingKey<Double>.heartbeatSeconds.value(of: text) == expected)
    }

    @Test func zeroWhereZeroMeansSomething() {
        #expect(SettingKey<Double>.drainSeconds.value(of: "0") == 0)
        #expect(SettingKey<Double>.prefetchSeconds.value(of: "0") == 0)
        #expect(SettingKey<Double?>.runTimeoutSeconds.value(of: "0") == nil)
    }

    @Test(arguments: [("yes", true), ("ON", true), ("1", true), ("off", false), ("False", false), ("maybe", nil)] as [(String, Bool?)])
    func booleans(_ text: String, _ expected: Bool?) {
        #expect(SettingKey<Bool>.runOnce.value(of: text) == expected)
    }

    @Test func theErrorLineSaysWhatItMustBe() {
        #expect(SettingKey<Double>.heartbeatSeconds.problem(with: "x") == "must be a number of seconds > 0 (got 'x'); fix or unset it")
        #expect(SettingKey<Int?>.limit.problem(with: "0") == "must be a whole number of at least 1 (got '0'); omit it for no limit")
        #expect(SettingKey<Int>.webserverPort.problem(with: "70000") == "must be a port number 0-65535 (got '70000')")
        #expect(SettingKey<Int>.webserverPort.value(of: "70000") == nil)
        #expect(SettingKey<Int?>.limit.value(of: "3") == .some(3))
    }

    @Test func blankTextIsNotGiven() {
        #expect(SettingKey<String?>.pool.value(of: "  ") == .some(nil))
        #expect(SettingKey<String?>.pool.value(of: " p ") == .some("p"))
    }
}
