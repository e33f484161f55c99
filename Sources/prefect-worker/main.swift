import FoundationEssentials
import PrefectWorker

_ = ConcurrencyOnEventLoops.install()
await PrefectWorkerCommand.runAndExit()
