import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

/// Finds every process that belongs to a run, from /proc: the descendants of its child (by parent
/// pid, whatever their session or process group, so `setsid` daemons are included) and every process
/// whose environment carries the run's marker variable (so orphans that were re-parented to the
/// worker, which is a child subreaper, are still known as the run's). The worker itself is never
/// included.
public enum ProcessTree {
    public struct Entry: Equatable {
        public var pid: pid_t
        public var parent: pid_t
        public var group: pid_t
    }

    /// Pids of the run's processes that are still alive (zombies excluded).
    public static func processes(descendingFrom root: pid_t?, marker: String?) -> Set<pid_t> {
        let own = getpid()
        var children: [pid_t: [pid_t]] = [:]
        var marked: Set<pid_t> = []
        for entry in liveProcesses() where entry.pid != own {
            children[entry.parent, default: []].append(entry.pid)
            if let marker, environment(of: entry.pid, contains: marker) { marked.insert(entry.pid) }
        }
        var found = marked
        var queue: [pid_t] = root.map { [$0] } ?? []
        queue.append(contentsOf: marked)
        while let pid = queue.popLast() {
            for child in children[pid] ?? [] where found.insert(child).inserted { queue.append(child) }
        }
        if let root, isAlive(root) { found.insert(root) }
        found.remove(own)
        return found
    }

    /// The main process of a run whose worker died after starting it and before writing its pid
    /// down: a process carrying `marker` that leads its own process group (every run's process is
    /// started as the leader of a new group), whose parent is not a live process of this worker's
    /// executable (then it is another worker's run) — the oldest such one, as a run's own `setsid`
    /// daemons are younger than it. Nil when there is none.
    public static func orphanedRunProcess(marker: String) -> pid_t? {
        let workerExecutable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var found: (pid: pid_t, started: UInt64)?
        for entry in liveProcesses() where entry.pid != getpid() && entry.pid == entry.group {
            guard environment(of: entry.pid, contains: marker) else { continue }
            let parentExecutable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(entry.parent)/exe")
            if let workerExecutable, parentExecutable == workerExecutable { continue }
            guard let started = ProcessIdentity.startTime(of: entry.pid) else { continue }
            if found.map({ started < $0.started }) ?? true { found = (entry.pid, started) }
        }
        return found?.pid
    }

    /// Sends `signal` to each pid; returns how many were still there to receive it.
    @discardableResult
    public static func signal(_ pids: Set<pid_t>, _ signal: Int32) -> Int {
        pids.filter { kill($0, signal) == 0 }.count
    }

    /// All processes with their parent, skipping zombies (already dead, waiting to be reaped).
    static func liveProcesses() -> [Entry] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return names.compactMap { name in
            guard let pid = pid_t(name), let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, fields[0] != "Z", let parent = pid_t(fields[1]), let group = pid_t(fields[2]) else { return nil }
            return Entry(pid: pid, parent: parent, group: group)
        }
    }

    static func environment(of pid: pid_t, contains marker: String) -> Bool {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return false }
        let needle = Array(marker.utf8)
        return data.split(separator: 0).contains { $0.elementsEqual(needle) }
    }

    public static func isAlive(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        return !stat[stat.index(after: close)...].trimmingSpaces().hasPrefix("Z")
    }
}
