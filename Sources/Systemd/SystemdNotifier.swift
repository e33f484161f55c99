import CSystemd
import FoundationEssentials

/// sd_notify(3): tells the service manager how the worker is doing. Every call is a no-op (and
/// sends nothing) when `NOTIFY_SOCKET` is unset, so the worker runs the same under any supervisor.
public struct SystemdNotifier: Sendable {
    /// True when a service manager listens (`NOTIFY_SOCKET` is set).
    public let isEnabled: Bool
    /// Half of `WATCHDOG_USEC` (the interval systemd's documentation asks for), or nil when the
    /// unit has no `WatchdogSec=` (or `WATCHDOG_PID` names another process).
    public let watchdogPingInterval: Double?

    /// Reads `NOTIFY_SOCKET` and `WATCHDOG_USEC` from the process environment, as libsystemd does.
    public init() {
        isEnabled = !(ProcessInfo.processInfo.environment["NOTIFY_SOCKET"] ?? "").isEmpty
        var usec: UInt64 = 0
        if isEnabled, sd_watchdog_enabled(0, &usec) > 0, usec > 0 {
            watchdogPingInterval = Double(usec) / 2_000_000
        } else {
            watchdogPingInterval = nil
        }
    }

    /// Sends `assignments` (`KEY=value` lines) in one datagram; false when nothing was sent.
    @discardableResult
    public func notify(_ assignments: [String]) -> Bool {
        guard isEnabled, !assignments.isEmpty else { return false }
        return sd_notify(0, assignments.joined(separator: "\n")) > 0
    }

    public func ready(status: String) { notify(["READY=1", "STATUS=\(Self.oneLine(status))"]) }
    public func status(_ text: String) { notify(["STATUS=\(Self.oneLine(text))"]) }
    public func watchdog() { notify(["WATCHDOG=1"]) }
    public func stopping(status: String) { notify(["STOPPING=1", "STATUS=\(Self.oneLine(status))"]) }

    /// Asks for `seconds` more before the stop timeout (`EXTEND_TIMEOUT_USEC`); systemd only ever
    /// lengthens the unit's own `TimeoutStopSec=` with it.
    public func extendTimeout(seconds: Double, status: String) {
        notify(["EXTEND_TIMEOUT_USEC=\(UInt64(seconds * 1_000_000))", "STATUS=\(Self.oneLine(status))"])
    }

    static func oneLine(_ text: String) -> String {
        text.replacing("\n", with: " ")
    }
}
