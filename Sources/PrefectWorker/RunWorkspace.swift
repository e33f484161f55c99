import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

/// The directory a run's child starts in: the job's `working_dir`, or a fresh temporary directory
/// that is removed when the run is over (docs/prefect-worker-protocol.md §5.3).
struct RunWorkspace {
    let path: String
    let isTemporary: Bool

    static func make(workingDir: String?) throws -> RunWorkspace {
        if let workingDir { return RunWorkspace(path: workingDir, isTemporary: false) }
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(base)/prefect-run-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw WorkspaceError(message: "could not create a temporary working directory in \(base): \(String(cString: strerror(errno)))")
        }
        return RunWorkspace(path: String(cString: made), isTemporary: true)
    }

    /// Removes a temporary directory with what the run left in it (on the blocking pool: it may
    /// hold many files, see `BlockingWork`).
    func remove() async {
        guard isTemporary else { return }
        let path = self.path
        await BlockingWork.run { try? FileManager.default.removeItem(atPath: path) }
    }
}

struct WorkspaceError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
