import PrefectAPI
import Testing

@Suite struct ServerReachabilityTests {
    @Test(arguments: [
        // (outcome of the last attempt, reachable after it)
        (200 as Int?, true), (204, true), (401, true), (404, true), (409, true), (429, true), (500, true),
        (502, false), (503, false), (504, false), (nil, false),
    ])
    func theLastAttemptDecides(_ status: Int?, _ reachable: Bool) {
        let reachability = ServerReachability()
        #expect(reachability.isReachable, "assumed reachable until a request says otherwise")
        reachability.record(status: nil)
        reachability.record(status: status)
        #expect(reachability.isReachable == reachable)
    }
}
