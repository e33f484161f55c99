/// The labels a worker gives each flow run it claims, as Prefect's worker does
/// (`_give_worker_labels_to_flow_run`): which worker and which pool ran it. The server merges them
/// into the run's labels, so the UI and automations can filter runs by worker or pool.
public enum WorkerLabels {
    public static func forFlowRun(workerName: String, pool: WorkPool) -> [String: String] {
        [
            "prefect.worker.name": workerName,
            "prefect.worker.type": "process",
            "prefect.work-pool.name": pool.name,
            "prefect.work-pool.id": pool.id,
        ]
    }
}
