/// Splits a command string into arguments like Python's `shlex.split` (POSIX mode), which is what
/// Prefect does with the job's `command`.
public enum CommandLineSplitter {
    public enum SplitError: Error, Equatable, CustomStringConvertible {
        case unterminatedQuote(Character)
        case trailingBackslash

        public var description: String {
            switch self {
            case .unterminatedQuote(let quote): return "job variable 'command' has an unterminated \(quote) quote; close it"
            case .trailingBackslash: return "job variable 'command' ends with a lone backslash; remove it or escape it"
            }
        }
    }

    public static func split(_ command: String) throws -> [String] {
        var arguments: [String] = []
        var current = ""
        var inArgument = false
        var iterator = Array(command).makeIterator()
        while let character = iterator.next() {
            switch character {
            case "'":
                inArgument = true
                var closed = false
                while let next = iterator.next() {
                    if next == "'" { closed = true; break }
                    current.append(next)
                }
                if !closed { throw SplitError.unterminatedQuote("'") }
            case "\"":
                inArgument = true
                var closed = false
                while let next = iterator.next() {
                    if next == "\"" { closed = true; break }
                    if next == "\\" {
                        guard let escaped = iterator.next() else { throw SplitError.unterminatedQuote("\"") }
                        // Inside double quotes shlex unescapes only \" and \\.
                        if escaped == "\"" || escaped == "\\" { current.append(escaped) } else { current.append(next); current.append(escaped) }
                        continue
                    }
                    current.append(next)
                }
                if !closed { throw SplitError.unterminatedQuote("\"") }
            case "\\":
                guard let escaped = iterator.next() else { throw SplitError.trailingBackslash }
                inArgument = true
                current.append(escaped)
            case " ", "\t", "\r", "\n", "\r\n":  // shlex's whitespace only, not every Unicode space
                if inArgument { arguments.append(current); current = ""; inArgument = false }
            default:
                inArgument = true
                current.append(character)
            }
        }
        if inArgument { arguments.append(current) }
        return arguments
    }
}
