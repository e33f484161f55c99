import FoundationEssentials
import PrefectWorkerCore

#if canImport(Glibc)
import Glibc
#endif

/// An engine run's private Prefect profile file (`RunProfile`): in a directory only the worker's
/// user can enter (0700, made by mkdtemp), the file itself 0600, created exclusively; removed with
/// its directory when the run is over. The directory is in `$RUNTIME_DIRECTORY` (systemd's
/// RuntimeDirectory=, on tmpfs), else `$XDG_RUNTIME_DIR`, else `$TMPDIR` or /tmp.
struct RunProfileFile {
    let directory: String
    var path: String { directory + "/" + RunProfile.fileName }

    static func write(settings: [String: String], environment: [String: String]) throws -> RunProfileFile {
        let base = ["RUNTIME_DIRECTORY", "XDG_RUNTIME_DIR", "TMPDIR"].lazy
            .compactMap { SettingsResolver.nonEmpty(environment[$0]).map { String($0.split(separator: ":").first ?? "") } }
            .first { !$0.isEmpty && FileManager.default.isWritableFile(atPath: $0) } ?? "/tmp"
        var template = Array("\(base)/prefect-worker-run-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw WorkspaceError(message: "could not create the run's private profile directory in \(base): \(String(cString: strerror(errno)))")
        }
        let profile = RunProfileFile(directory: String(cString: made))
        let descriptor = open(profile.path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            let reason = String(cString: strerror(errno))
            profile.remove()
            throw WorkspaceError(message: "could not create the run's profile file in \(profile.directory): \(reason)")
        }
        defer { close(descriptor) }
        let bytes = Array(RunProfile.text(settings: settings).utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            profile.remove()
            throw WorkspaceError(message: "could not write the run's profile file in \(profile.directory)")
        }
        return profile
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}
