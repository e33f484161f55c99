import PrefectWorkerCore
import Synchronization

/// The flows runs belong to, read once per flow rather than once per run: a flow's name cannot
/// change (Prefect's flow update takes tags only), and the name is all the worker uses. Bounded:
/// emptied when it holds `capacity` flows.
final class FlowNames: Sendable {
    private let flows = Mutex<[String: Flow]>([:])
    private let capacity: Int

    init(capacity: Int = 1000) { self.capacity = capacity }

    func flow(id: String) -> Flow? { flows.withLock { $0[id] } }

    func remember(_ flow: Flow) {
        flows.withLock { known in
            if known.count >= capacity { known.removeAll() }
            known[flow.id] = flow
        }
    }
}
