import Foundation
import PrefectWorker

await PrefectWorkerCommand.runAndExit()
