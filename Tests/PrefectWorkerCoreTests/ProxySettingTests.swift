import PrefectWorkerCore
import Testing

@Suite struct ProxySettingTests {
    @Test func aProxyURLWithAndWithoutCredentials() {
        #expect(ProxySetting("http://proxy.example.com:3128") == ProxySetting(host: "proxy.example.com", port: 3128))
        #expect(ProxySetting("proxy:8080") == ProxySetting(host: "proxy", port: 8080))
        #expect(ProxySetting("http://u%40x:p%3Aw@127.0.0.1:3128")?.credentials == "u@x:p:w")
        #expect(ProxySetting("http://proxy")?.port == 80)
        #expect(ProxySetting("socks5://proxy:1080") == nil)
        #expect(ProxySetting("http://") == nil)
    }

    @Test(arguments: [
        ("api.example.com", ["example.com"], true),
        ("api.example.com", [".example.com"], true),
        ("example.com", [".example.com"], true),
        ("notexample.com", ["example.com"], false),
        ("127.0.0.1", ["localhost", "127.0.0.1"], true),
        ("127.0.0.1", ["127.0.0.1:4200"], true),
        ("::1", ["[::1]"], true),
        ("anything", ["*"], true),
        ("API.Example.COM", ["example.com"], true),
        ("10.0.0.1", [], false),
    ])
    func noProxyMatchesHostsAsCurlDoes(host: String, noProxy: [String], bypassed: Bool) {
        #expect(ProxySetting.bypasses(host: host, noProxy: noProxy) == bypassed)
    }
}
