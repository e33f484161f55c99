import FoundationEssentials
import Logging
import PrefectWorkerCore

#if canImport(Glibc)
import Glibc
#endif

/// The durable record of the runs this worker holds: one small JSON file per run and worker
/// process in `<state dir>/runs/` (`<run id>.<worker pid>.json`: workers sharing a state directory
/// never overwrite or remove each other's entries, also when both propose a claim of the same
/// run), written crash-safe (write to a temporary file, fsync, rename, fsync the directory) and
/// removed once the run's final state is reported or it is handed back. Beside an entry, its
/// proposals' unanswered transition ids (`<run id>.<worker pid>.strays`, a line each), appended
/// as they happen: rare, and never racing the entry's own rewrites.
final class RunLedger: Sendable {
    let directory: String
    private let logger: Logger

    /// Nil (and a warning) when the directory cannot be created: the worker then runs without
    /// restart recovery rather than not at all.
    init?(stateDirectory: String, logger: Logger) {
        self.directory = stateDirectory + "/runs"
        self.logger = logger
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            logger.warning("cannot use state directory \(stateDirectory) (\(error)); restart recovery is off")
            return nil
        }
    }

    /// Writes the run's entry (on the blocking pool: it fsyncs, see `BlockingWork`).
    func record(_ entry: LedgerEntry) async {
        await BlockingWork.run { self.recordNow(entry) }
    }

    /// Notes an unanswered proposal of the run (see `noteStrayNow`).
    func noteStray(_ transitionId: String, of flowRunId: String) async {
        await BlockingWork.run { self.noteStrayNow(transitionId, of: flowRunId) }
    }

    /// Removes this worker process's entry of the run.
    func remove(_ flowRunId: String) async {
        await BlockingWork.run { self.removeNow(flowRunId) }
    }

    /// Removes an entry an earlier worker process wrote (see `removeNow(_:)`).
    func remove(_ entry: LedgerEntry) async {
        await BlockingWork.run { self.removeNow(entry) }
    }

    /// Every entry on disk; unreadable files are reported and skipped.
    func entries() async -> [LedgerEntry] {
        await BlockingWork.run { self.entriesNow() }
    }

    private func recordNow(_ entry: LedgerEntry) {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        encoder.outputFormatting = [.sortedKeys]
        do {
            let data = try encoder.encode(entry)
            try Self.writeDurably(data, to: path(of: entry.flowRunId), directory: directory)
        } catch {
            logger.warning("could not write the run ledger entry: \(error)", metadata: ["flow_run_id": "\(entry.flowRunId)"])
        }
    }

    /// Notes a proposal of the run with an unanswered attempt beside this worker process's entry
    /// of it (none: nothing to note, the run is not held).
    private func noteStrayNow(_ transitionId: String, of flowRunId: String) {
        guard access(path(of: flowRunId), F_OK) == 0 else { return }
        let path = straysPath(of: flowRunId)
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            logger.warning("could not note an unanswered proposal in the run ledger: \(String(cString: strerror(errno)))",
                           metadata: ["flow_run_id": "\(flowRunId)"])
            return
        }
        let line = Array((transitionId + "\n").utf8)
        _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        fsync(fd)
        close(fd)
        Self.syncDirectory(directory)
    }

    private func removeNow(_ flowRunId: String) {
        unlink(path(of: flowRunId))
        unlink(straysPath(of: flowRunId))
        Self.syncDirectory(directory)
    }

    /// Also under the name before per-process files, `<run id>.json`.
    private func removeNow(_ entry: LedgerEntry) {
        unlink(path(of: entry.flowRunId, writer: entry.workerPid))
        unlink(straysPath(of: entry.flowRunId, writer: entry.workerPid))
        unlink("\(directory)/\(entry.flowRunId).json")
        Self.syncDirectory(directory)
    }

    private func entriesNow() -> [LedgerEntry] {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".json") }.compactMap { name in
            guard let data = FileManager.default.contents(atPath: "\(directory)/\(name)"),
                let entry = try? decoder.decode(LedgerEntry.self, from: data)
            else {
                logger.warning("skipping an unreadable run ledger file", metadata: ["file": "\(directory)/\(name)"])
                return nil
            }
            var withStrays = entry
            let noted = (try? String(contentsOfFile: "\(directory)/\(name.dropLast(".json".count)).strays", encoding: .utf8))?
                .split(separator: "\n").map(String.init) ?? []
            let strays = Set(noted).union(entry.strayTransitionIds ?? [])
            withStrays.strayTransitionIds = strays.isEmpty ? nil : strays.sorted()
            return withStrays
        }
    }

    private func path(of flowRunId: String, writer: Int32 = getpid()) -> String { "\(directory)/\(flowRunId).\(writer).json" }
    private func straysPath(of flowRunId: String, writer: Int32 = getpid()) -> String { "\(directory)/\(flowRunId).\(writer).strays" }

    static func writeDurably(_ data: Data, to path: String, directory: String) throws {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LedgerError(message: "open \(temporary): \(String(cString: strerror(errno)))") }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        close(fd)
        guard written == data.count, synced == 0 else {
            unlink(temporary)
            throw LedgerError(message: "write \(temporary): \(String(cString: strerror(errno)))")
        }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw LedgerError(message: "rename to \(path): \(String(cString: strerror(errno)))")
        }
        syncDirectory(directory)
    }

    static func syncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}

struct LedgerError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
