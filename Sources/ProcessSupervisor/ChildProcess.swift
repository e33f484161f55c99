import CProcessSpawn
import FoundationEssentials
import PrefectWorkerCore

#if canImport(Glibc)
import Glibc
#endif

/// What to start.
public struct ChildProcessSpec: Sendable {
    public var arguments: [String]
    public var environment: [String: String]
    public var workingDirectory: String?
    /// When false, stdout and stderr go to /dev/null.
    public var captureOutput: Bool
    /// Longer lines are handed out in pieces of this size (marked partial): large enough for a
    /// JSON log record, small enough that one line never holds much memory.
    public var maxLineBytes: Int
    public static let defaultMaxLineBytes = 64 * 1024

    public init(
        arguments: [String], environment: [String: String], workingDirectory: String?, captureOutput: Bool = true,
        maxLineBytes: Int = ChildProcessSpec.defaultMaxLineBytes
    ) {
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.captureOutput = captureOutput
        self.maxLineBytes = maxLineBytes
    }
}

/// A running child in its own session and process group (PGID = PID), supervised by `ChildReaper`.
public final class ChildProcess: Sendable {
    public let pid: Int32
    public let executablePath: String
    private let readers: [LineReader]

    private init(pid: Int32, executablePath: String, readers: [LineReader]) {
        self.pid = pid
        self.executablePath = executablePath
        self.readers = readers
    }

    /// Starts the child. Throws `SpawnError` with a message fit for the run's CRASHED state when the
    /// command or working directory is not usable; output lines go to `onOutput` as they come.
    public static func spawn(
        _ spec: ChildProcessSpec, onOutput: @escaping @Sendable (OutputLine) -> Void = { _ in }
    ) throws -> ChildProcess {
        if let directory = spec.workingDirectory {
            var info = stat()
            guard stat(directory, &info) == 0 else { throw SpawnError.workingDirectoryMissing(path: directory) }
            guard (info.st_mode & S_IFMT) == S_IFDIR else { throw SpawnError.workingDirectoryNotADirectory(path: directory) }
        }
        guard let name = spec.arguments.first else { throw SpawnError.emptyCommand }
        let executable = try ExecutableResolver.resolve(
            name, path: spec.environment["PATH"], workingDirectory: spec.workingDirectory)

        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        if spec.captureOutput {
            guard pw_pipe_cloexec(&outPipe) == 0 else { throw systemError("pipe2") }
            guard pw_pipe_cloexec(&errPipe) == 0 else {
                close(outPipe[0]); close(outPipe[1])
                throw systemError("pipe2")
            }
        }
        defer {
            // The child has its own copies of the write ends; the worker keeps only the read ends.
            if spec.captureOutput { close(outPipe[1]); close(errPipe[1]) }
        }

        let argv = spec.arguments
        let envp = spec.environment.map { "\($0.key)=\($0.value)" }
        let pid: pid_t
        do {
            pid = try ChildReaper.shared.spawnSupervised {
                var pid: pid_t = 0
                let rc = withCStrings(argv) { argvPointer in
                    withCStrings(envp) { envpPointer in
                        pw_spawn(executable, argvPointer, envpPointer, spec.workingDirectory, outPipe[1], errPipe[1], &pid)
                    }
                }
                guard rc == 0 else { throw SpawnError.systemError(call: "posix_spawn", errno: rc, message: String(cString: strerror(rc))) }
                return pid
            }
        } catch {
            if spec.captureOutput { close(outPipe[0]); close(errPipe[0]) }
            throw error
        }

        var readers: [LineReader] = []
        if spec.captureOutput {
            readers = [
                LineReader(fd: outPipe[0], pid: pid, stream: .stdout, maxLineBytes: spec.maxLineBytes, onLine: onOutput),
                LineReader(fd: errPipe[0], pid: pid, stream: .stderr, maxLineBytes: spec.maxLineBytes, onLine: onOutput),
            ]
            readers.forEach { $0.start() }
        }
        return ChildProcess(pid: pid, executablePath: executable, readers: readers)
    }

    /// Waits for the child to exit, then up to `outputGraceSeconds` for the last output lines (a
    /// grandchild that keeps the pipes open must not hold the run's report back).
    public func waitForExit(outputGraceSeconds: Double = 2, clock: any WorkerClock) async -> ProcessExit {
        let exit = await ChildReaper.shared.waitForExit(of: pid)
        for reader in readers { _ = await reader.waitForEOF(seconds: outputGraceSeconds, clock: clock) }
        return exit
    }

    /// Sends `signal` to the child's whole process group. Returns false when the group is gone.
    @discardableResult
    public func signalGroup(_ signal: Int32) -> Bool {
        killpg(pid, signal) == 0
    }

    private static func systemError(_ call: String) -> SpawnError {
        let code = errno
        return SpawnError.systemError(call: call, errno: code, message: String(cString: strerror(code)))
    }
}

/// Calls `body` with a NULL-terminated C array of the strings.
func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) throws -> R) rethrows -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { pointers.forEach { free($0) } }
    return try pointers.withUnsafeBufferPointer { try body($0.baseAddress!) }
}
