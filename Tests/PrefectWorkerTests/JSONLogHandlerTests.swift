import Foundation
import Logging
import Testing

@testable import PrefectWorker

@Suite struct JSONLogHandlerTests {
    @Test func oneObjectPerLineWithMetadataKeysAsTheyAre() throws {
        let line = JSONLogHandler.line(
            timestamp: "2026-11-24T00:00:00.000000Z", level: .notice, message: "a \"quoted\"\nline\u{0}\u{1b}\u{2028}\u{85}",
            metadata: ["flow_run_id": "abc", "stream": "stderr"])
        #expect(line.hasSuffix("}\n"))
        #expect(!line.dropLast().contains { $0.isNewline }, "one record is one line, by any reader's idea of a line")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        #expect(object == [
            "timestamp": "2026-11-24T00:00:00.000000Z", "level": "notice", "message": "a \"quoted\"\nline\u{0}\u{1b}\u{2028}\u{85}",
            "flow_run_id": "abc", "stream": "stderr",
        ])
    }

    @Test func invalidUTF8RepairedBeforeItGetsHereStaysValidJSON() throws {
        let text = String(decoding: [0x66, 0xFF, 0xFE, 0x6F], as: UTF8.self)
        let line = JSONLogHandler.line(timestamp: "t", level: .info, message: text, metadata: [:])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        #expect(object["message"] == text)
    }
}
