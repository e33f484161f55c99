import PrefectAPI
import Testing

@Suite struct PrefectAPIErrorTests {
    /// What a worker must assume of a proposal that failed: with no answer, a gateway's answer or
    /// one it cannot read, the server may have taken it or still may; its own error answers, and a
    /// failed handshake, say it did not.
    @Test(arguments: [
        (PrefectAPIError.connection(route: "POST /flow_runs/r/set_state", reason: "reset"), true),
        (.http(status: 502, route: "POST /flow_runs/r/set_state", detail: ""), true),
        (.http(status: 504, route: "POST /flow_runs/r/set_state", detail: ""), true),
        (.http(status: 503, route: "POST /flow_runs/r/set_state", detail: "Service Unavailable"), false),
        (.http(status: 429, route: "POST /flow_runs/r/set_state", detail: ""), false),
        (.undecodable(route: "POST /flow_runs/r/set_state", reason: "not JSON"), true),
        (.tls(route: "POST /flow_runs/r/set_state", reason: "certificate"), false),
    ])
    func mayStillLand(_ error: PrefectAPIError, mayLand: Bool) {
        #expect(error.mayStillLand == mayLand)
    }
}
