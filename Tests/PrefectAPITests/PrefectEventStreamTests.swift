import NIOCore
import Testing

@testable import PrefectAPI

@Suite struct PrefectEventStreamTests {
    @Test func theStreamLivesNextToTheAPI() throws {
        let local = try #require(PrefectEventStream.endpoint(baseURL: "http://127.0.0.1:4200/api"))
        #expect(local.host == "127.0.0.1" && local.port == 4200 && local.path == "/api/events/out" && !local.tls)
        let cloud = try #require(PrefectEventStream.endpoint(baseURL: "https://api.prefect.cloud/api/accounts/a/workspaces/w"))
        #expect(cloud.host == "api.prefect.cloud" && cloud.port == 443 && cloud.tls)
        #expect(cloud.path == "/api/accounts/a/workspaces/w/events/out")
        let v6 = try #require(PrefectEventStream.endpoint(baseURL: "http://[::1]:4299/api/"))
        #expect(v6.host == "::1" && v6.port == 4299 && v6.path == "/api/events/out")
        #expect(PrefectEventStream.endpoint(baseURL: "ftp://host/api") == nil)
    }

    @Test func aCloseFrameSaysWhy() {
        var frame = ByteBuffer()
        frame.writeInteger(UInt16(1008))
        frame.writeString("Invalid token")
        #expect(PrefectEventStream.closeReason(frame) == "close code 1008, Invalid token")
        #expect(PrefectEventStream.closeReason(ByteBuffer()) == "no close code")
    }
}
