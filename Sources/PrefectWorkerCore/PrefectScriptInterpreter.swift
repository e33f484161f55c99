/// The Python that has Prefect installed, read from the `prefect` console script pip wrote: its
/// `#!` line names that interpreter. Forms pip writes: `#!/venv/bin/python3`, `#!/usr/bin/env
/// python3`, and for paths too long or with spaces a `#!/bin/sh` line followed by
/// `'''exec' "/long path/python3" "$0" "$@"`.
public enum PrefectScriptInterpreter {
    /// The interpreter of the script starting with `text`; nil when it names none.
    public static func interpreter(script text: String) -> String? {
        let lines = text.split(separator: "\n", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        guard let first = lines.first, first.hasPrefix("#!") else { return nil }
        let words = first.dropFirst(2).split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let program = words.first else { return nil }
        if program.hasSuffix("/env") {
            return words.dropFirst().first { !$0.hasPrefix("-") && !$0.contains("=") }
        }
        if program.hasSuffix("/sh"), lines.count > 1, lines[1].hasPrefix("'''exec' ") {
            return firstWord(of: lines[1].dropFirst("'''exec' ".count))
        }
        return program.hasSuffix("/sh") || program.hasSuffix("/bash") ? nil : program
    }

    /// A word that may be in double quotes.
    private static func firstWord(of text: Substring) -> String? {
        let text = text.drop { $0 == " " }
        if text.first == "\"" {
            let rest = text.dropFirst()
            return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
        }
        return text.split(separator: " ").first.map(String.init)
    }
}
