import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import PrefectAPI

@Suite struct PrefectAPIErrorTests {
    /// What a worker must assume of a proposal that failed: with no answer, a gateway's answer or
    /// one it cannot read, the server may have taken it or still may; its own error answers, a
    /// refused connection and a failed handshake say it did not.
    @Test(arguments: [
        (PrefectAPIError.connection(route: "POST /flow_runs/r/set_state", reason: "reset"), true),
        (.http(status: 502, route: "POST /flow_runs/r/set_state", detail: ""), true),
        (.http(status: 504, route: "POST /flow_runs/r/set_state", detail: ""), true),
        (.http(status: 503, route: "POST /flow_runs/r/set_state", detail: "Service Unavailable"), false),
        (.http(status: 429, route: "POST /flow_runs/r/set_state", detail: ""), false),
        (.undecodable(route: "POST /flow_runs/r/set_state", reason: "not JSON"), true),
        (.unsent(route: "POST /flow_runs/r/set_state", reason: "Connection refused"), false),
        (.tls(route: "POST /flow_runs/r/set_state", reason: "certificate"), false),
    ])
    func mayStillLand(_ error: PrefectAPIError, mayLand: Bool) {
        #expect(error.mayStillLand == mayLand)
    }

    /// A port nobody listens on refuses the connection: the error the HTTP client reports for it
    /// (after trying to connect until the request's deadline) is one of a request never sent.
    @Test func aRefusedConnectionIsARequestNeverSent() async throws {
        let port = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).flatMap { channel in
                let port = channel.localAddress?.port ?? 0
                return channel.close().map { port }
            }.get()
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/api/health")
        request.method = .GET
        do {
            _ = try await client.execute(request, timeout: .seconds(5))
            Issue.record("a closed port answered")
        } catch {
            #expect(HTTPPrefectAPI.neverSent(error), "\(error)")
        }
        try await client.shutdown()
    }
}
