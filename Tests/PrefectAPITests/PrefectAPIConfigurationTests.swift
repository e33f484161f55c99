import Foundation
import PrefectAPI
import Testing

@Suite struct PrefectAPIConfigurationTests {
    func header(_ name: String, in configuration: PrefectAPIConfiguration) -> [String] {
        configuration.headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1)
    }

    @Test func apiKeyIsSentAsBearer() {
        let configuration = PrefectAPIConfiguration(baseURL: "http://127.0.0.1:4200/api", apiKey: "pnu_secret")
        #expect(header("Authorization", in: configuration) == ["Bearer pnu_secret"])
    }

    @Test func authStringIsSentAsBasicAndWinsOverTheKey() {
        let configuration = PrefectAPIConfiguration(
            baseURL: "http://127.0.0.1:4200/api", apiKey: "pnu_secret", authString: "admin:pass")
        let expected = "Basic " + Data("admin:pass".utf8).base64EncodedString()
        #expect(header("Authorization", in: configuration) == [expected])
    }

    @Test func customHeadersAreSentButCannotOverrideProtectedOnes() {
        let configuration = PrefectAPIConfiguration(
            baseURL: "http://127.0.0.1:4200/api",
            customHeaders: ["X-Team": "data", "User-Agent": "evil", "prefect-csrf-token": "x"])
        #expect(header("X-Team", in: configuration) == ["data"])
        #expect(header("User-Agent", in: configuration).count == 1)
        #expect(header("User-Agent", in: configuration).first?.hasPrefix("prefect-worker-swift/") == true)
        #expect(header("Prefect-Csrf-Token", in: configuration).isEmpty)
    }

    @Test func noAuthorizationWithoutCredentials() {
        let configuration = PrefectAPIConfiguration(baseURL: "http://127.0.0.1:4200/api/")
        #expect(header("Authorization", in: configuration).isEmpty)
        #expect(configuration.baseURL == "http://127.0.0.1:4200/api")
        #expect(header("X-PREFECT-API-VERSION", in: configuration) == ["0.8.4"])
    }
}
