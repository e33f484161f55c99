import Foundation
import Synchronization
import Testing

@testable import PrefectAPI

@Suite struct CSRFTokensTests {
    let now = Date(timeIntervalSince1970: 1_795_445_716)

    final class Fetches: Sendable {
        let count = Atomic<Int>(0)
    }

    @Test func oneFetchServesConcurrentWritesAndTheTokenIsKeptUntilAMinuteBeforeItExpires() async throws {
        let tokens = CSRFTokens(enabled: true)
        let fetches = Fetches()
        let expires = now.addingTimeInterval(3600)
        let fetch: @Sendable () async throws -> CSRFTokens.Fetched = {
            let number = fetches.count.add(1, ordering: .relaxed).newValue
            try await Task.sleep(nanoseconds: 50_000_000)
            return .token("t\(number)", expires: expires)
        }
        let now = self.now
        let got = await withTaskGroup(of: String?.self) { group in
            for _ in 0..<5 { group.addTask { try? await tokens.token(now: now, fetch: fetch) } }
            return await group.reduce(into: [String?]()) { $0.append($1) }
        }
        #expect(got == Array(repeating: "t1", count: 5))
        #expect(fetches.count.load(ordering: .relaxed) == 1, "the server keeps one token per client: one fetch")
        let got1 = try await tokens.token(now: now.addingTimeInterval(3539), fetch: fetch)
        #expect(got1 == "t1")
        let got2 = try await tokens.token(now: now.addingTimeInterval(3541), fetch: fetch)
        #expect(got2 == "t2", "refreshed before it expires")
    }

    @Test func aRefusedTokenIsFetchedAgainUnlessAnotherRequestDidAlready() async throws {
        let tokens = CSRFTokens(enabled: true)
        let fetches = Fetches()
        let fetch: @Sendable () async throws -> CSRFTokens.Fetched = { [now] in
            .token("t\(fetches.count.add(1, ordering: .relaxed).newValue)", expires: now.addingTimeInterval(3600))
        }
        let got3 = try await tokens.token(now: now, fetch: fetch)
        #expect(got3 == "t1")
        await tokens.refused("t1")
        let got4 = try await tokens.token(now: now, fetch: fetch)
        #expect(got4 == "t2")
        await tokens.refused("t1")
        let got5 = try await tokens.token(now: now, fetch: fetch)
        #expect(got5 == "t2", "an old token's refusal does not drop the new one")
    }

    @Test func aServerWithoutCSRFIsAskedOnceAndADisabledClientNever() async throws {
        let fetches = Fetches()
        let disabled: @Sendable () async throws -> CSRFTokens.Fetched = {
            fetches.count.add(1, ordering: .relaxed)
            return .disabled
        }
        let tokens = CSRFTokens(enabled: true)
        let got6 = try await tokens.token(now: now, fetch: disabled)
        #expect(got6 == nil)
        let got7 = try await tokens.token(now: now, fetch: disabled)
        #expect(got7 == nil)
        #expect(fetches.count.load(ordering: .relaxed) == 1)
        let got8 = try await CSRFTokens(enabled: false).token(now: now, fetch: disabled)
        #expect(got8 == nil)
        #expect(fetches.count.load(ordering: .relaxed) == 1)
    }

    @Test func aFailedFetchIsTriedAgainByTheNextWrite() async throws {
        struct Down: Error {}
        let tokens = CSRFTokens(enabled: true)
        let now = self.now
        let failing: @Sendable () async throws -> CSRFTokens.Fetched = { throw Down() }
        await #expect(throws: Down.self) { _ = try await tokens.token(now: now, fetch: failing) }
        let got9 = try await tokens.token(now: now, fetch: { [now] in .token("t", expires: now.addingTimeInterval(3600)) })
        #expect(got9 == "t")
    }

    @Test func theRefusalsThatCallForANewToken() {
        #expect(CSRFTokens.isRefusal(status: 403, body: #"{"detail":"Invalid CSRF token or client identifier."}"#))
        #expect(CSRFTokens.isRefusal(status: 403, body: #"{"detail":"Missing CSRF token."}"#))
        #expect(!CSRFTokens.isRefusal(status: 403, body: #"{"detail":"Not authenticated"}"#))
        #expect(!CSRFTokens.isRefusal(status: 401, body: "Invalid CSRF token"))
    }
}
