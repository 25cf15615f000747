import CertbusBus
import Foundation
import Postgres

/// Waiting on the command line for a job another process (a worker) runs.
enum EndpointJobWait {
    /// A job's final state.
    struct Finished {
        var status: String
        var output: String?
        var error: String?
    }

    /// The job did not finish in time.
    struct TimedOut: Error, CustomStringConvertible {
        var jobId: Int64
        var status: String
        var timeout: TimeInterval
        var description: String {
            "job \(jobId) is still \(status) after \(Int(timeout)) s; is a worker running (certbus worker or certbus serve)? "
                + "Follow it with certbus jobs show \(jobId)."
        }
    }

    /// Waits until job `id` is SUCCESS, FAILED or CANCELLED, waking on NOTIFY of the jobs channel and
    /// checking at least twice a second; throws `TimedOut` after `timeout` seconds. `progress`
    /// (when given) shows the job's status and the time waited while it is not finished.
    static func wait(
        for id: Int64, timeout: TimeInterval, on connection: Connection, progress: CommandProgress? = nil
    ) throws -> Finished {
        defer { progress?.finish() }
        try connection.listen(JobQueue.channel)
        defer { _ = try? connection.unlisten(JobQueue.channel) }
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let row = try connection.query(
                "SELECT status, output::text AS output, error FROM certbus.jobs WHERE id = $1", [id]
            ).firstRow
            guard let row else { return Finished(status: "GONE", output: nil, error: "job \(id) no longer exists") }
            let status: String = try row.decode("status")
            if ["SUCCESS", "FAILED", "CANCELLED"].contains(status) {
                return Finished(status: status, output: try row.decode("output"), error: try row.decode("error"))
            }
            progress?.waiting("job \(id)", status: status)
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { throw TimedOut(jobId: id, status: status, timeout: timeout) }
            _ = try connection.waitForNotifications(timeout: min(0.5, left))
        }
    }
}
