import Foundation
import PrefectWorkerCore
import Testing

@Suite struct RFC3339Tests {
    @Test(arguments: [
        (0.0, "1970-01-01T00:00:00.000000Z"),
        (1_795_445_716.198781, "2026-11-23T14:55:16.198781Z"),
        (951_782_400.5, "2000-02-29T00:00:00.500000Z"),
        (1_795_445_716.9999996, "2026-11-23T14:55:17.000000Z"),
    ])
    func formatsUTCWithMicroseconds(_ seconds: Double, _ expected: String) {
        #expect(RFC3339.format(Date(timeIntervalSince1970: seconds)) == expected)
    }

    @Test(arguments: [
        ("2026-11-23T14:55:16.198781Z", 1_795_445_716.198781),
        ("2026-11-23T14:55:16Z", 1_795_445_716.0),
        ("2026-11-23T15:55:16.5+01:00", 1_795_445_716.5),
        ("2026-11-23T09:55:16-05:00", 1_795_445_716.0),
        ("2026-11-23 14:55:16.000001+00:00", 1_795_445_716.000001),
        ("2000-02-29T00:00:00.500000Z", 951_782_400.5),
    ])
    func parsesTheServersTimestamps(_ text: String, _ seconds: Double) throws {
        let parsed = try #require(RFC3339.parse(text))
        #expect(abs(parsed.timeIntervalSince1970 - seconds) < 0.000_01)
    }

    @Test(arguments: ["", "2026-11-23", "2026-11-23T14:55:16", "2026-13-23T14:55:16Z", "2026-11-23T14:55:16.Z",
                      "2026-11-23T14:55:16Zjunk", "2026-11-23T14:55:16+0100", "x026-11-23T14:55:16Z"])
    func refusesAnythingElse(_ text: String) {
        #expect(RFC3339.parse(text) == nil)
    }

    @Test func formatThenParseIsTheSameInstant() throws {
        let date = Date(timeIntervalSince1970: 1_795_445_716.25)
        #expect(try #require(RFC3339.parse(RFC3339.format(date))).timeIntervalSince1970 == date.timeIntervalSince1970)
    }
}
