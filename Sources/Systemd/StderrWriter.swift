import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Whole lines to stderr (fd 2), one writer at a time, so records of concurrent runs never
/// interleave: the stream the journal takes from a service and a container runtime from its
/// entrypoint. Written with `write(2)`: `FileHandle` is full Foundation (docs/architecture.md,
/// "Foundation"). A full or closed stderr loses the line; there is nowhere else to say so.
public enum StderrWriter {
    private static let lock = Mutex(())

    public static func write(_ line: String) {
        var bytes = Array(line.utf8)
        lock.withLock { _ in
            bytes.withUnsafeMutableBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = Glibc.write(STDERR_FILENO, buffer.baseAddress! + offset, buffer.count - offset)
                    if written < 0 && errno == EINTR { continue }
                    if written <= 0 { return }
                    offset += written
                }
            }
        }
    }
}
