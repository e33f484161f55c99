import PrefectWorkerCore
import Testing

@Suite struct ConfigFileTests {
    /// The error `text` fails with, checked for its line and a part of its message.
    private func expectError(
        _ text: String, line: Int, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let error = try #require(throws: ConfigFileError.self, sourceLocation: sourceLocation) { try ConfigFile.parse(text) }
        #expect(error.line == line, "\(error)", sourceLocation: sourceLocation)
        #expect(error.message.contains(fragment), "\(error)", sourceLocation: sourceLocation)
    }

    /// The only value of a one-entry file.
    private func value(_ text: String) throws -> ConfigValue {
        let entries = try ConfigFile.parse(text)
        try #require(entries.count == 1)
        return entries[0].value
    }

    @Test(arguments: ["", "\n\n", "# only a comment\n   \n\t# another\n"])
    func emptyFileHasNoEntries(_ text: String) throws {
        #expect(try ConfigFile.parse(text) == [])
    }

    @Test func realisticFile() throws {
        let text = """
            # Prefect worker configuration
            name = "box-1"  # the worker's name
            work_pool = 'default'

            [api]
            url = "http://localhost:4200/api"
            key = "pnu_#not-a-comment"  # but this is
            timeout = 30.5
            retries = 3
            verify_tls = true

            [worker]
            labels = [
              "gpu",   # first label
              'fast',
              # a whole-line comment
            ]
            limits = [1, -2.5, [true, "x"]]
            poll.interval = 1_000
            poll . jitter = 1e-1
            banner = '''
            Hello # not a comment
            World'''
            after = false
            """
        #expect(
            try ConfigFile.parse(text) == [
                ConfigEntry(key: "name", value: .string("box-1"), line: 2),
                ConfigEntry(key: "work_pool", value: .string("default"), line: 3),
                ConfigEntry(key: "api.url", value: .string("http://localhost:4200/api"), line: 6),
                ConfigEntry(key: "api.key", value: .string("pnu_#not-a-comment"), line: 7),
                ConfigEntry(key: "api.timeout", value: .float(30.5), line: 8),
                ConfigEntry(key: "api.retries", value: .integer(3), line: 9),
                ConfigEntry(key: "api.verify_tls", value: .bool(true), line: 10),
                ConfigEntry(key: "worker.labels", value: .array([.string("gpu"), .string("fast")]), line: 13),
                ConfigEntry(
                    key: "worker.limits", value: .array([.integer(1), .float(-2.5), .array([.bool(true), .string("x")])]),
                    line: 18),
                ConfigEntry(key: "worker.poll.interval", value: .integer(1000), line: 19),
                ConfigEntry(key: "worker.poll.jitter", value: .float(0.1), line: 20),
                ConfigEntry(key: "worker.banner", value: .string("Hello # not a comment\nWorld"), line: 21),
                ConfigEntry(key: "worker.after", value: .bool(false), line: 24),
            ])
    }

    @Test func crlfLineEndingsCountAsOneLine() throws {
        let entries = try ConfigFile.parse("a = 1\r\nb = 'x'\r\n\r\nc = [\r\n  1, # one\r\n]\r\nd = \"\"\"\r\ny\"\"\"\r\n")
        #expect(entries.map(\.line) == [1, 2, 4, 7])
        #expect(entries.map(\.value) == [.integer(1), .string("x"), .array([.integer(1)]), .string("y")])
    }

    @Test func dottedKeysAndTableHeadersPrefixKeys() throws {
        let entries = try ConfigFile.parse("a . b = 1\n[x.y]\nz = 2\n[ x . w ]\nv.u = 3\n[a.c]\nd = 4")
        #expect(entries.map(\.key) == ["a.b", "x.y.z", "x.w.v.u", "a.c.d"])
    }

    @Test func parentTableMayGetItsOwnHeaderLater() throws {
        let entries = try ConfigFile.parse("[a.b]\nc = 1\n[a]\nd = 2")
        #expect(entries.map(\.key) == ["a.b.c", "a.d"])
    }

    @Test func quotedKeys() throws {
        let entries = try ConfigFile.parse("\"my key\" = 1\nsite.'x y' = 2\n[ \"quoted table\" ]\n'k' = 3")
        #expect(entries.map(\.key) == ["my key", "site.x y", "quoted table.k"])
    }

    @Test(arguments: [
        (#"a = "say \"hi\"""#, #"say "hi""#),
        (#"a = "c:\\tmp""#, #"c:\tmp"#),
        (#"a = "\n\t\r\b\f""#, "\n\t\r\u{08}\u{0C}"),
        (#"a = "caf\u00e9 \U0001F600""#, "café 😀"),
        (#"a = """#, ""),
    ])
    func basicStringEscapes(_ text: String, _ expected: String) throws {
        #expect(try value(text) == .string(expected))
    }

    @Test func literalStringsKeepBackslashesAndQuotes() throws {
        #expect(try value(#"path = 'C:\Users\n"x"'"#) == .string(#"C:\Users\n"x""#))
    }

    @Test func multiLineBasicStringTrimsFirstNewlineAndKeepsKeyLine() throws {
        let text = #"""
            a = """
            one\ttab
            two "quoted" # kept"""
            b = 1
            """#
        #expect(
            try ConfigFile.parse(text) == [
                ConfigEntry(key: "a", value: .string("one\ttab\ntwo \"quoted\" # kept"), line: 1),
                ConfigEntry(key: "b", value: .integer(1), line: 4),
            ])
    }

    @Test func multiLineBasicStringLineEndingBackslashJoinsLines() throws {
        let text = #"""
            s = """
            The quick \
                brown \

                fox."""
            """#
        #expect(try value(text) == .string("The quick brown fox."))
    }

    @Test func multiLineStringsAllowQuotesBeforeTheClosingDelimiter() throws {
        #expect(try value("a = \"\"\"x\"\"\"\"\"") == .string("x\"\""))
        #expect(try value("b = '''y'''''") == .string("y''"))
    }

    @Test func multiLineLiteralStringIsKeptAsWritten() throws {
        #expect(try value("re = '''\n\\d+ \"x\"\n'''") == .string("\\d+ \"x\"\n"))
    }

    @Test(arguments: [
        ("42", 42), ("+7", 7), ("-17", -17), ("0", 0), ("-0", 0), ("1_000_000", 1_000_000),
        ("0xff", 255), ("0xDEAD_beef", 0xDEAD_BEEF), ("0o17", 15), ("0b101", 5),
    ])
    func integers(_ literal: String, _ expected: Int) throws {
        #expect(try value("n = \(literal)") == .integer(expected))
    }

    @Test(arguments: [
        ("1.5", 1.5), ("-0.5", -0.5), ("+2.0", 2.0), ("1e3", 1000.0), ("1.5E-2", 0.015), ("6.626e-34", 6.626e-34),
        ("1_000.5", 1000.5), ("0.0", 0.0), ("inf", Double.infinity), ("-inf", -Double.infinity),
    ])
    func floats(_ literal: String, _ expected: Double) throws {
        #expect(try value("x = \(literal)") == .float(expected))
    }

    @Test func nanIsAFloat() throws {
        guard case .float(let number) = try value("x = nan") else {
            Issue.record("nan is not a float")
            return
        }
        #expect(number.isNaN)
    }

    @Test(arguments: [
        ("[]", ConfigValue.array([])),
        ("[1, 2, 3,]", .array([.integer(1), .integer(2), .integer(3)])),
        ("[[1, 2], ['a'], []]", .array([.array([.integer(1), .integer(2)]), .array([.string("a")]), .array([])])),
        ("[ 1 , \"two\" , 3.0 , true ]", .array([.integer(1), .string("two"), .float(3.0), .bool(true)])),
        ("[\n\n  # nothing yet\n  'a' # first\n  ,\n]", .array([.string("a")])),
    ])
    func arrays(_ literal: String, _ expected: ConfigValue) throws {
        #expect(try value("a = \(literal)") == expected)
    }

    @Test func typeNamesAndErrorDescription() {
        #expect(
            [ConfigValue.string(""), .integer(0), .float(0), .bool(true), .array([])].map(\.typeName)
                == ["string", "integer", "float", "boolean", "array"])
        #expect(ConfigFileError(line: 7, message: "bad").description == "line 7: bad")
    }

    // MARK: Errors

    @Test func missingEquals() throws {
        try expectError("a = 1\nname \"x\"", line: 2, "expected '=' after 'name'")
        try expectError("hello", line: 1, "expected '=' after 'hello'")
    }

    @Test func missingValue() throws {
        try expectError("[api]\nurl =   # nothing\n", line: 2, "missing value for 'api.url'")
        try expectError("a = [1, , 2]", line: 1, "missing value in the array of 'a'")
    }

    @Test(arguments: [
        ("a = 1\nb = \"open\nc = 2", 2, #"unterminated string; close it with ""#),
        ("b = 'open", 1, "unterminated string; close it with '"),
        ("b = \"ends in a backslash\\", 1, "unterminated string"),
        ("x = 1\nb = \"\"\"\nmore\n", 2, #"unterminated multi-line string; close it with """"#),
        ("b = '''\nmore ''", 1, "unterminated multi-line string; close it with '''"),
    ])
    func unterminatedStrings(_ text: String, _ line: Int, _ fragment: String) throws {
        try expectError(text, line: line, fragment)
    }

    @Test func unknownAndInvalidEscapes() throws {
        try expectError(#"a = 1"# + "\n" + #"b = "c:\q""#, line: 2, #"unknown escape '\q'"#)
        try expectError(#"b = """"# + "\nok\n" + #"\x""""#, line: 3, #"unknown escape '\x'"#)
        try expectError(#"b = "\u12""#, line: 1, #"invalid unicode escape '\u12'"#)
        try expectError(#"b = "\uD800""#, line: 1, "invalid unicode escape")
    }

    @Test(arguments: ["1__0", "1_", "01", "1.", "1.2.3", "1e", "1e+", "0xg", ".5", "1_000x", "+0x1", "-1._5"])
    func badNumbers(_ literal: String) throws {
        try expectError("a = 1\nb = \(literal)", line: 2, "'\(literal)' is not a valid number")
    }

    @Test func numbersOutOfRange() throws {
        try expectError("n = 99999999999999999999", line: 1, "'99999999999999999999' is out of range for an integer")
        try expectError("x = 1e400", line: 1, "'1e400' is out of range for a float")
    }

    @Test func unquotedWordIsNotAValue() throws {
        #expect(throws: ConfigFileError(line: 3, message: "value of 'name' is not a TOML value; quote strings, e.g. name = \"hello\"")) {
            try ConfigFile.parse("\n\nname = hello\n")
        }
        try expectError("[w]\nmode = True", line: 2, "value of 'w.mode' is not a TOML value; quote strings, e.g. mode = \"True\"")
        try expectError("a = [\n1,\ntwo]", line: 3, "'two' in the array of 'a' is not a TOML value")
    }

    @Test func trailingTextAfterAValueOrHeader() throws {
        try expectError("a = \"x\" y", line: 1, "unexpected 'y' after the value of 'a'")
        try expectError("[t]\na = 1 2 # c", line: 2, "unexpected '2 # c' after the value of 't.a'")
        try expectError("a = [\n1\n] junk", line: 3, "unexpected 'junk' after the value of 'a'")
        try expectError("[t] x", line: 1, "unexpected 'x' after table header [t]")
    }

    @Test func duplicateKeyNamesTheFirstLine() throws {
        #expect(throws: ConfigFileError(line: 5, message: "duplicate key 't.b'; it is first defined on line 3")) {
            try ConfigFile.parse("a = 1\n[t]\nb = 2\n\nb = 3")
        }
        try expectError("a.b = 1\na . b = 2", line: 2, "duplicate key 'a.b'; it is first defined on line 1")
        try expectError("\"a\" = 1\na = 2", line: 2, "duplicate key 'a'")
    }

    @Test func duplicateTableNamesTheFirstLine() throws {
        #expect(throws: ConfigFileError(line: 4, message: "duplicate table [api]; it is first defined on line 1")) {
            try ConfigFile.parse("[api]\nx = 1\n[worker]\n[api]")
        }
    }

    @Test(arguments: [
        ("a = 1\n[a]", 2, "'a' is already a value (line 1), so it cannot also be a table"),
        ("a = 1\n[a.b]", 2, "'a' is already a value (line 1)"),
        ("a = 1\na.b = 2", 2, "'a' is already a value (line 1)"),
        ("a.b = 1\na = 2", 2, "'a' is already a table (line 1), so it cannot also be a value"),
        ("[a.b]\nc = 1\n[a]\nb = 2", 4, "'a.b' is already a table (line 1)"),
        ("[t]\nx.y = 1\n[t.x]", 3, "table [t.x] is already defined by dotted keys on line 2"),
        ("[t.x]\ny = 1\n[t]\nx.z = 2", 4, "table [t.x] is already defined on line 1; put 'z' under it"),
    ])
    func keyThatIsAlsoATable(_ text: String, _ line: Int, _ fragment: String) throws {
        try expectError(text, line: line, fragment)
    }

    @Test(arguments: [
        ("a = [1, 2", 1, "unclosed array for 'a'; close it with ']'"),
        ("x = 0\nports = [\n  80,\n  443\nname = \"w\"", 2, "unclosed array for 'ports'"),
        ("ports = [80,\n\nname = 'w'", 1, "unclosed array for 'ports'"),
        ("a = [\n[1, 2]\n", 1, "unclosed array for 'a'"),
        ("a = [1 2]", 1, "expected ',' or ']' in the array of 'a' opened on line 1"),
    ])
    func unclosedArrays(_ text: String, _ line: Int, _ fragment: String) throws {
        try expectError(text, line: line, fragment)
    }

    @Test func inlineTablesAndArraysOfTablesAreNotSupported() throws {
        try expectError("a = 1\nt = { x = 1 }", line: 2, "inline tables ({...}) are not supported")
        try expectError("a = [\n  {x = 1},\n]", line: 2, "inline tables ({...}) are not supported")
        try expectError("a = 1\n[[servers]]\nname = 'x'", line: 2, "arrays of tables ([[...]]) are not supported")
    }

    @Test(arguments: ["1979-05-27", "1979-05-27T07:32:00Z", "1979-05-27 07:32:00", "07:32:00"])
    func datesAndTimesMustBeQuoted(_ literal: String) throws {
        try expectError("a = 1\nwhen = \(literal)", line: 2, "dates and times are not supported; quote them, e.g. when = \"")
    }

    @Test(arguments: [
        ("a = 1\n$x = 1", 2, "'$' cannot be in a bare key"),
        ("= 1", 1, "missing key before '='"),
        ("a. = 1", 1, "missing key before '='"),
        ("[]", 1, "missing key before ']'"),
        ("[a", 1, "table header [a] is missing its closing ']'"),
        ("[a b]", 1, "table header [a] is missing its closing ']'"),
    ])
    func badKeysAndHeaders(_ text: String, _ line: Int, _ fragment: String) throws {
        try expectError(text, line: line, fragment)
    }
}
