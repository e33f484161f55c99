import Foundation
import Systemd
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// sd_notify against a real datagram socket, as systemd makes for a Type=notify service. The
/// suite changes the process environment, so its tests run one at a time.
@Suite(.serialized) struct SystemdNotifierTests {
    /// A bound AF_UNIX datagram socket that the test reads.
    final class NotifySocket {
        let path: String
        let fd: Int32

        init() throws {
            path = NSTemporaryDirectory() + "notify-\(UUID().uuidString.prefix(8)).sock"
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            try #require(bound == 0)
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        /// The next datagram, or nil after 5 s.
        func receive() -> String? {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = recv(fd, &buffer, buffer.count, 0)
            return count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : nil
        }

        deinit {
            close(fd)
            unlink(path)
        }
    }

    @Test func messagesReachTheSocketAndTheWatchdogIntervalIsHalfOfWatchdogUsec() throws {
        let socket = try NotifySocket()
        setenv("NOTIFY_SOCKET", socket.path, 1)
        setenv("WATCHDOG_USEC", "4000000", 1)
        defer { unsetenv("NOTIFY_SOCKET"); unsetenv("WATCHDOG_USEC") }

        let notifier = SystemdNotifier()
        #expect(notifier.isEnabled)
        #expect(notifier.watchdogPingInterval == 2)
        notifier.ready(status: "Registered\nwith pool")
        #expect(socket.receive() == "READY=1\nSTATUS=Registered with pool")
        notifier.watchdog()
        #expect(socket.receive() == "WATCHDOG=1")
        notifier.extendTimeout(seconds: 15, status: "Stopping")
        #expect(socket.receive() == "EXTEND_TIMEOUT_USEC=15000000\nSTATUS=Stopping")
    }

    @Test func withoutNotifySocketNothingIsSentAndThereIsNoWatchdog() {
        unsetenv("NOTIFY_SOCKET")
        setenv("WATCHDOG_USEC", "4000000", 1)
        defer { unsetenv("WATCHDOG_USEC") }
        let notifier = SystemdNotifier()
        #expect(!notifier.isEnabled)
        #expect(notifier.watchdogPingInterval == nil)
        #expect(!notifier.notify(["READY=1"]))
    }

    @Test func aWatchdogMeantForAnotherProcessIsNotOurs() throws {
        let socket = try NotifySocket()
        setenv("NOTIFY_SOCKET", socket.path, 1)
        setenv("WATCHDOG_USEC", "4000000", 1)
        setenv("WATCHDOG_PID", "\(getpid() + 1)", 1)
        defer { unsetenv("NOTIFY_SOCKET"); unsetenv("WATCHDOG_USEC"); unsetenv("WATCHDOG_PID") }
        #expect(SystemdNotifier().watchdogPingInterval == nil)
    }
}
