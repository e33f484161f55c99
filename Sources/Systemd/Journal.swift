import CSystemd
import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

/// The systemd journal's native protocol, through libsystemd.
public enum Journal {
    /// Where journald listens for native entries.
    public static let socketPath = "/run/systemd/journal/socket"

    public static var isSocketPresent: Bool {
        var info = stat()
        return stat(socketPath, &info) == 0 && (info.st_mode & S_IFMT) == S_IFSOCK
    }

    /// True when systemd connected our stderr to the journal: `JOURNAL_STREAM` holds the
    /// `device:inode` of that stream (systemd.exec(5)), and it is the one fd 2 points at.
    public static func isStderrConnected(environment: [String: String]) -> Bool {
        guard let value = environment["JOURNAL_STREAM"] else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var info = stat()
        guard fstat(STDERR_FILENO, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }

    /// Sends one entry of `NAME=value` fields; 0 on success, a negative errno otherwise. Values may
    /// hold newlines and any bytes (libsystemd switches to its binary-safe encoding, and to a
    /// memfd for entries too large for one datagram).
    @discardableResult
    public static func send(_ fields: [(name: String, value: String)]) -> Int32 {
        var storage: [UInt8] = []
        var ranges: [(offset: Int, length: Int)] = []
        storage.reserveCapacity(fields.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 1 })
        for field in fields {
            let start = storage.count
            storage.append(contentsOf: field.name.utf8)
            storage.append(UInt8(ascii: "="))
            storage.append(contentsOf: field.value.utf8)
            ranges.append((start, storage.count - start))
        }
        return storage.withUnsafeMutableBytes { raw -> Int32 in
            guard let base = raw.baseAddress else { return -EINVAL }
            var vectors = ranges.map { iovec(iov_base: base + $0.offset, iov_len: $0.length) }
            return sd_journal_sendv(&vectors, Int32(vectors.count))
        }
    }
}
