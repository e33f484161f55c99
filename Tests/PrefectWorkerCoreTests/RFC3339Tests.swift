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
}
