/// How a child process ended: a value, not an error.
public enum ProcessExit: Equatable, Sendable, CustomStringConvertible {
    case exited(code: Int32)
    case signaled(signal: Int32)
    /// It ended while no worker was watching (an adopted process after a restart).
    case unknown

    public var isSuccess: Bool { self == .exited(code: 0) }

    /// The exit in plain words, e.g. "exited with code 3", "killed by SIGKILL (likely out of memory)".
    public var description: String {
        switch self {
        case .exited(let code):
            let base = "exited with code \(code)"
            switch code {
            case 126: return base + " (command found but not executable)"
            case 127: return base + " (command not found)"
            case 137: return base + " (killed by SIGKILL, likely out of memory)"
            case 143: return base + " (terminated by SIGTERM)"
            case 247: return base + " (out of memory)"
            default: return base
            }
        case .unknown:
            return "exited while the worker was away (exit status unknown)"
        case .signaled(let signal):
            let name = SignalName.of(signal)
            switch signal {
            case 9: return "killed by \(name) (likely out of memory, or killed by an operator)"
            default: return "killed by \(name)"
            }
        }
    }
}

/// Linux signal numbers as names, for messages.
public enum SignalName {
    private static let names: [Int32: String] = [
        1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS",
        8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE",
        14: "SIGALRM", 15: "SIGTERM", 16: "SIGSTKFLT", 17: "SIGCHLD", 18: "SIGCONT", 19: "SIGSTOP",
        20: "SIGTSTP", 21: "SIGTTIN", 22: "SIGTTOU", 23: "SIGURG", 24: "SIGXCPU", 25: "SIGXFSZ",
        26: "SIGVTALRM", 27: "SIGPROF", 28: "SIGWINCH", 29: "SIGIO", 30: "SIGPWR", 31: "SIGSYS",
    ]

    public static func of(_ signal: Int32) -> String {
        names[signal] ?? "signal \(signal)"
    }
}
