import NIOCore
import NIOEmbedded
import Testing

@testable import PrefectAPI

@Suite struct ProxyTunnelHandlerTests {
    func tunnel(credentials: String? = nil) throws -> (EmbeddedChannel, ProxyTunnelHandler) {
        let channel = EmbeddedChannel()
        let handler = ProxyTunnelHandler(
            targetHost: "prefect.example.com", targetPort: 443, credentials: credentials, eventLoop: channel.eventLoop)
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 3128)).wait()
        return (channel, handler)
    }

    @Test func aTwoHundredOpensTheTunnelAndTheHandlerStepsAside() throws {
        let (channel, handler) = try tunnel(credentials: "user:pw")
        let request = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(String(buffer: request) == "CONNECT prefect.example.com:443 HTTP/1.1\r\nHost: prefect.example.com:443\r\n"
            + "Proxy-Authorization: Basic dXNlcjpwdw==\r\n\r\n")
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 200 Connection established\r\n"))
        _ = try channel.pipeline.syncOperations.context(handler: handler)  // still waiting for the end of the answer
        try channel.writeInbound(ByteBuffer(string: "Proxy-Agent: test\r\n\r\n"))
        try handler.established.wait()
        #expect(throws: (any Error).self) { try channel.pipeline.syncOperations.context(handler: handler) }
        _ = try channel.finish()
    }

    @Test func anyOtherAnswerFailsNamingTheProxysStatusLine() throws {
        let (channel, handler) = try tunnel()
        _ = try channel.readOutbound(as: ByteBuffer.self)
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"))
        #expect {
            try handler.established.wait()
        } throws: { error in
            "\(error)".contains("'HTTP/1.1 407 Proxy Authentication Required'") && "\(error)".contains("prefect.example.com:443")
        }
        #expect(!channel.isActive)
    }

    @Test func aProxyThatHangsUpFailsTheTunnel() throws {
        let (channel, handler) = try tunnel()
        _ = try channel.readOutbound(as: ByteBuffer.self)
        try channel.close().wait()
        #expect(throws: EventStreamError.self) { try handler.established.wait() }
    }
}
