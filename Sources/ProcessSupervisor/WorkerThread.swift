import CProcessSpawn

#if canImport(Glibc)
import Glibc
#endif

/// Starts a detached thread of the worker's own for a loop that blocks (`waitpid`, `read`, `poll`,
/// a condition wait), so no blocking call ever holds a thread of the cooperative pool or an event
/// loop (docs/architecture.md, "Shared state"). Hand-written over pthreads because `Thread` is full
/// Foundation, which the worker does not link (docs/architecture.md, "Foundation"). `name` is
/// what `top -H` and /proc show; Linux keeps its first 15 bytes.
func startWorkerThread(name: String, _ body: @escaping @Sendable () -> Void) {
    final class Start {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }
    let start = Unmanaged.passRetained(Start(name: name, body: body)).toOpaque()
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    // The loops are shallow; 512 KiB of address space instead of the 8 MiB default.
    pthread_attr_setstacksize(&attributes, 512 * 1024)
    var thread = pthread_t()
    let created = pthread_create(&thread, &attributes, { argument in
        let start = Unmanaged<Start>.fromOpaque(argument!).takeRetainedValue()
        _ = pw_set_thread_name(start.name)
        start.body()
        return nil
    }, start)
    // Without a thread none of these loops can run: the worker cannot work without them.
    precondition(created == 0, "pthread_create failed (\(created)) for \(name)")
}
