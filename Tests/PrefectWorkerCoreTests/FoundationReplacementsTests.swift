import Foundation
import PrefectWorkerCore
import Testing

/// The helpers that replace full Foundation in the worker's targets (docs/architecture.md,
/// "Foundation") give what Foundation gives; the tests may use Foundation to say so.
@Suite struct FoundationReplacementsTests {
    @Test(arguments: [
        0, 0.004, 0.005, 0.006, 0.015, 0.125, 0.375, 0.5, 1, 1.005, 1.5, 2.5, 2.675, 29.999, 30, 123.456, 1234.5678,
        1e10, 8.9e15, 1e-300, 5e-324, -0.001, -1.25, -7.891, 0.1 + 0.2,
    ] as [Double])
    func fixedPointTextPrintsAsPrintf(_ value: Double) {
        for digits in 0...6 {
            #expect(value.fixedPointText(digits: digits) == String(format: "%.\(digits)f", value), "\(value), \(digits) digits")
        }
    }

    @Test func fixedPointTextOfWhatPrintfCannotScale() {
        #expect(Double.infinity.fixedPointText(digits: 2) == "inf")
        #expect(Double.nan.fixedPointText(digits: 2) == "nan")
        #expect(1e20.fixedPointText(digits: 2) == "1e+20")
    }

    @Test(arguments: [(0, 2, "00"), (7, 2, "07"), (59, 2, "59"), (123, 2, "123"), (5, 0, "5"), (-3, 3, "-03"), (-3, 1, "-3")])
    func zeroPadded(_ value: Int, _ width: Int, _ expected: String) {
        #expect(value.zeroPadded(width: width) == expected)
        #expect(expected == String(format: "%0\(width)d", value))
    }

    @Test(arguments: [
        "", " ", "a", "  a  ", "\ta b\t", " a\n", "\n a \n", "\u{00A0}x\u{2003}", "\r\n x \r\n", "\u{2028}y\u{2029}", "\u{85}z",
        "x\u{200B}",
    ])
    func trimmingMatchesFoundation(_ text: String) {
        #expect(text.trimmingSpaces() == text.trimmingCharacters(in: .whitespaces), "\(text.debugDescription)")
        #expect(text.trimmingWhitespace() == text.trimmingCharacters(in: .whitespacesAndNewlines), "\(text.debugDescription)")
        #expect(text.trimming(while: \.isNewline) == text.trimmingCharacters(in: .newlines), "\(text.debugDescription)")
    }

    @Test(arguments: ["default", "my pool", "a/b", "100%", "ünïcödé", "q?x=1#f", "a+b=c;d,e", "~user.name_1-2", "[::1]", "\"x\"", "tab\there"])
    func pathSegmentMatchesFoundation(_ segment: String) {
        let foundation = segment.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/")))
        #expect(PercentEncoding.pathSegment(segment) == foundation)
    }
}
