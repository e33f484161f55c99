import FoundationEssentials
import PrefectAPI
import Logging
import PrefectWorkerCore
import ProcessSupervisor
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The Python that runs `-m prefect.engine` for jobs without a command: `--python`, else the
/// interpreter of the `prefect` script on the worker's PATH (under systemd, `python3` on PATH is
/// rarely the one Prefect is installed in), else `python3`.
enum WorkerPython {
    static func discover(environment: [String: String]) -> String {
        guard let script = try? ExecutableResolver.resolve("prefect", path: environment["PATH"], workingDirectory: nil) else {
            return "python3"
        }
        let fd = open(script, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return "python3" }
        defer { close(fd) }
        var head = [UInt8](repeating: 0, count: 4096)
        let count = head.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        return PrefectScriptInterpreter.interpreter(script: String(decoding: head.prefix(max(0, count)), as: UTF8.self)) ?? "python3"
    }
}

/// Whether the worker's Python imports prefect, checked once at start (bounded): a Python without
/// Prefect is said once, at start, instead of in every engine run's crash, and each engine run
/// that would use it ends CRASHED with the same sentence.
actor PythonCheck {
    enum Result: Sendable, Equatable {
        case imports
        case cannotImport(String)
        case unknown
    }

    static let timeoutSeconds: Double = 30

    private let python: String
    private let environment: [String: String]
    private var task: Task<Result, Never>?

    init(python: String, environment: [String: String]) {
        self.python = python
        self.environment = environment.filter { !ChildEnvironment.serviceManagerVariables.contains($0.key) && !ChildEnvironment.credentialVariables.contains($0.key) }
    }

    /// Starts the check (once) and logs its outcome when it is known.
    func start(logger: Logger) {
        guard task == nil else { return }
        let python = self.python
        let environment = self.environment
        task = Task {
            let result = await Self.run(python: python, environment: environment)
            switch result {
            case .imports: logger.debug("the Python for engine runs imports prefect", metadata: ["python": "\(python)"])
            case .cannotImport(let sentence): logger.warning("\(sentence)")
            case .unknown:
                logger.warning("could not confirm within \(Int(Self.timeoutSeconds)) s that '\(python)' imports prefect; engine runs will try it")
            }
            return result
        }
    }

    /// The sentence an engine run ends CRASHED with when the Python cannot serve it; nil when it
    /// can (or it is not known: the run then tries).
    func problem() async -> String? {
        guard let task else { return nil }
        if case .cannotImport(let sentence) = await task.value { return sentence }
        return nil
    }

    private static func run(python: String, environment: [String: String]) async -> Result {
        let lastError = LastLine()
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn(
                ChildProcessSpec(arguments: [python, "-c", "import prefect.engine"], environment: environment, workingDirectory: "/",
                                 captureOutput: true)
            ) { line in if line.stream == .stderr, !line.text.isEmpty { lastError.set(line.text) } }
        } catch {
            return .cannotImport(sentence(python: python, reason: "\(error)"))
        }
        let exit = await withTaskGroup(of: ProcessExit?.self) { group in
            group.addTask { await child.waitForExit(clock: EventLoopClock()) }
            group.addTask {
                try? await EventLoopClock().sleep(seconds: timeoutSeconds)
                return nil
            }
            let first = await group.next() ?? nil
            if first == nil { child.signalGroup(SIGKILL) }
            group.cancelAll()
            return first
        }
        guard let exit else { return .unknown }
        if exit.isSuccess { return .imports }
        return .cannotImport(sentence(python: python, reason: lastError.value ?? "it \(exit)"))
    }

    static func sentence(python: String, reason: String) -> String {
        "the Python '\(python)' cannot import prefect (\(reason)); engine runs need the Python Prefect is installed in: set --python or PREFECT_WORKER_PYTHON to it"
    }
}

/// The last line a check printed.
private final class LastLine: Sendable {
    private let line = Mutex<String?>(nil)

    func set(_ text: String) { line.withLock { $0 = text } }
    var value: String? { line.withLock { $0 } }
}
