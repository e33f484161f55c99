import Logging
import PrefectAPI
import PrefectWorkerCore

/// Makes sure the pool exists, is a process pool and has a job template (docs/prefect-worker-protocol.md §2.1, 2.8).
struct WorkPoolRegistrar: Sendable {
    let api: any PrefectAPI
    let configuration: WorkerConfiguration
    let logger: Logger

    /// `retry` decides how long a down server is waited for: forever at start, briefly on refresh.
    /// `atStart`: say once that a given base job template is not used on an existing pool.
    func ensurePool(retry: RetryPolicy, atStart: Bool = false) async throws -> WorkPool {
        let name = configuration.poolName
        var pool: WorkPool
        if let existing = try await api.readWorkPool(named: name, retry: retry) {
            pool = existing
            if atStart, let given = configuration.baseJobTemplate {
                // As Prefect's worker: the template is for creating the pool, never to overwrite one.
                logger.warning(
                    "the work pool exists, so the base job template from --base-job-template is ignored; change it with `prefect work-pool update --base-job-template`",
                    metadata: ["work_pool": "\(name)", "file": "\(given.file)"])
            }
        } else {
            guard configuration.createPoolIfNotFound else { throw WorkerError.poolNotFound(name) }
            let template = configuration.baseJobTemplate?.template ?? ProcessJobTemplate.default
            pool = try await api.createWorkPool(named: name, type: "process", baseJobTemplate: template)
            logger.info(
                "created work pool", metadata: ["work_pool": "\(name)", "base_job_template": "\(configuration.baseJobTemplate?.file ?? "default")"])
        }
        guard pool.type == "process" else { throw WorkerError.wrongPoolType(pool: name, type: pool.type) }
        if pool.baseJobTemplate.objectValue?.isEmpty ?? true {
            try await api.updateBaseJobTemplate(pool: name, template: ProcessJobTemplate.default)
            pool.baseJobTemplate = ProcessJobTemplate.default
            logger.info("set the default process job template on a pool that had none", metadata: ["work_pool": "\(name)"])
        }
        return pool
    }
}
