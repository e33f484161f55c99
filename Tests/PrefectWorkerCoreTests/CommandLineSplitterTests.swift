import PrefectWorkerCore
import Testing

/// Expected values are what Python's `shlex.split` returns for the same input.
@Suite struct CommandLineSplitterTests {
    @Test(arguments: [
        ("echo hi", ["echo", "hi"]),
        ("  a   b  ", ["a", "b"]),
        ("sh -c 'exit 3'", ["sh", "-c", "exit 3"]),
        (#""a b" c"#, ["a b", "c"]),
        (#"a\ b"#, ["a b"]),
        (#""say \"hi\"""#, [#"say "hi""#]),
        ("''", [""]),
        ("", []),
        ("a''b \"\"", ["ab", ""]),
        (#""a\\b""#, [#"a\b"#]),
        ("a\tb\nc", ["a", "b", "c"]),
        ("x # not a comment", ["x", "#", "not", "a", "comment"]),
    ] as [(String, [String])])
    func splitsLikeShlex(_ command: String, _ expected: [String]) throws {
        #expect(try CommandLineSplitter.split(command) == expected)
    }

    @Test func unterminatedSingleQuoteThrows() {
        #expect(throws: CommandLineSplitter.SplitError.unterminatedQuote("'")) { try CommandLineSplitter.split("echo 'hi") }
    }

    @Test func unterminatedDoubleQuoteThrows() {
        #expect(throws: CommandLineSplitter.SplitError.unterminatedQuote("\"")) { try CommandLineSplitter.split("echo \"hi") }
    }

    @Test func trailingBackslashThrows() {
        #expect(throws: CommandLineSplitter.SplitError.trailingBackslash) { try CommandLineSplitter.split("echo \\") }
    }

    @Test(arguments: [(#""a\$b""#, [#"a\$b"#]), ("\"a\\`b\"", ["a\\`b"])] as [(String, [String])])
    func backslashInDoubleQuotesLikeShlex(_ command: String, _ expected: [String]) throws {
        #expect(try CommandLineSplitter.split(command) == expected)
    }

    @Test
    func escapedNewlineLikeShlex() throws {
        #expect(try CommandLineSplitter.split("a\\\nb") == ["a\nb"])
    }

    @Test
    func unicodeSpaceIsNotASeparator() throws {
        #expect(try CommandLineSplitter.split("x\u{00A0}y") == ["x\u{00A0}y"])
    }
}
