import PrefectAPI
import Foundation
import PrefectWorkerCore
import ProcessSupervisor
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Every wait in these tests is bounded by this many seconds.
let deadlineSeconds: Double = 10

/// A spec running `script` under /bin/sh with a minimal environment.
func shell(
    _ script: String, environment: [String: String] = ["PATH": "/usr/bin:/bin"], workingDirectory: String? = nil,
    captureOutput: Bool = true, maxLineBytes: Int = 16 * 1024
) -> ChildProcessSpec {
    ChildProcessSpec(
        arguments: ["/bin/sh", "-c", script], environment: environment, workingDirectory: workingDirectory,
        captureOutput: captureOutput, maxLineBytes: maxLineBytes)
}

/// Runs `operation`, giving up (returning nil) after `seconds`. The operation is not awaited after
/// the deadline, so a wait that never ends cannot hang the test.
func withDeadline<T: Sendable>(
    _ seconds: Double = deadlineSeconds, _ operation: @escaping @Sendable () async -> T
) async -> T? {
    await withCheckedContinuation { continuation in
        let once = ResumeOnce<T?>(continuation)
        Task { once.resume(with: await operation()) }
        Task {
            try? await Task.sleep(nanoseconds: UInt64(seconds * 1_000_000_000))
            once.resume(with: nil)
        }
    }
}

/// Resumes a continuation with the first value given; later values are dropped.
private final class ResumeOnce<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, Never>?

    init(_ continuation: CheckedContinuation<T, Never>) { self.continuation = continuation }

    func resume(with value: T) {
        lock.lock()
        let continuation = self.continuation
        self.continuation = nil
        lock.unlock()
        continuation?.resume(returning: value)
    }
}

/// The child's exit, or nil (with a recorded issue and the group killed) when it does not end in time.
func exitOf(_ child: ChildProcess, sourceLocation: SourceLocation = #_sourceLocation) async -> ProcessExit? {
    let exit = await withDeadline { await child.waitForExit(clock: EventLoopClock()) }
    if exit == nil {
        Issue.record("child \(child.pid) did not exit within \(deadlineSeconds) s", sourceLocation: sourceLocation)
        child.signalGroup(SIGKILL)
    }
    return exit
}

/// Waits until `condition` holds, polling, for at most `seconds`. Returns whether it held.
func eventually(
    _ condition: () -> Bool, within seconds: Double = deadlineSeconds, sourceLocation: SourceLocation = #_sourceLocation
) async -> Bool {
    let end = Date().addingTimeInterval(seconds)
    while Date() < end {
        if condition() { return true }
        try? await Task.sleep(nanoseconds: 10_000_000)
    }
    if condition() { return true }
    Issue.record("condition not met within \(seconds) s", sourceLocation: sourceLocation)
    return false
}

/// Collects the lines a child writes.
final class LineCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var collected: [OutputLine] = []

    var onOutput: @Sendable (OutputLine) -> Void {
        { [self] line in lock.lock(); collected.append(line); lock.unlock() }
    }

    var all: [OutputLine] {
        lock.lock()
        defer { lock.unlock() }
        return collected
    }

    func texts(_ stream: OutputLine.Stream) -> [String] {
        all.filter { $0.stream == stream }.map(\.text)
    }
}

/// A fresh empty directory, removed by the caller.
func makeTemporaryDirectory() throws -> String {
    var template = Array((NSTemporaryDirectory() + "/pw-test-XXXXXX").utf8CString)
    guard let path = mkdtemp(&template) else { throw POSIXError(.EIO) }
    return String(cString: path)
}

/// Writes `contents` to `path` through a close-on-exec descriptor, so a child spawned meanwhile by
/// another test cannot inherit it (an inherited writer makes exec fail with ETXTBSY).
func writeFile(_ path: String, _ contents: String, mode: mode_t) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    defer { close(fd) }
    let bytes = Array(contents.utf8)
    guard write(fd, bytes, bytes.count) == bytes.count else { throw POSIXError(.EIO) }
}
