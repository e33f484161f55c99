/// Where and how the worker writes its log records (its own and every run's output lines).
public enum LogFormat: String, Sendable, Equatable, CaseIterable {
    /// Native journal entries through `sd_journal_sendv`, with structured fields.
    case journal
    /// One JSON object per line on stderr: for containers and log shippers.
    case json
    /// One `key=value` line per record on stderr: for a person at a terminal.
    case logfmt

    /// `auto` (or nothing) picks: the journal when systemd connected stderr to it (`JOURNAL_STREAM`
    /// names stderr), logfmt when stderr is a terminal, JSON otherwise (a container, a pipe, a file).
    /// A journal socket alone does not choose the journal: a person running the worker in a shell
    /// on a systemd host wants to see its lines. nil for a value that is not a format.
    public static func resolve(requested: String?, journalStreamIsStderr: Bool, stderrIsTerminal: Bool) -> LogFormat? {
        switch requested?.lowercased() {
        case nil, "", "auto":
            if journalStreamIsStderr { return .journal }
            return stderrIsTerminal ? .logfmt : .json
        case let name?:
            return LogFormat(rawValue: name)
        }
    }
}
