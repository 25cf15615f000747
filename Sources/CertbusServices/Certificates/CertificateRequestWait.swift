import Foundation
import Postgres

/// Waiting for a certificate request to finish (`cert request --wait`).
public enum CertificateRequestWait {
    /// The channel notified (payload: request id) when a request reaches a final status or starts waiting for approval.
    public static let channel = "certbus_certificate_requests"

    /// The request did not finish in time.
    public struct TimedOut: Error, CustomStringConvertible, Sendable {
        /// The request.
        public var requestId: UUID
        /// Its status when the wait ended.
        public var status: String
        /// Seconds waited.
        public var timeout: Double
        public var description: String {
            "request \(requestId.uuidString.lowercased()) is still \(status) after \(Int(timeout)) s; is a worker running (certbus worker or certbus serve)?"
        }
    }

    /// Waits until request `id` is ISSUED, FAILED, DENIED or EXPIRED — or, unless
    /// `throughApproval`, PENDING_APPROVAL — waking on NOTIFY and checking at least twice a
    /// second. Throws ``TimedOut`` after `timeout` seconds. `onWait` gets the request's status each
    /// time it is found unfinished (for a progress display).
    public static func wait(
        for id: UUID, timeout: Double, throughApproval: Bool = false, on connection: Connection,
        onWait: (String) -> Void = { _ in }
    ) throws -> CertificateRequestRecord {
        try connection.listen(channel)
        defer { _ = try? connection.unlisten(channel) }
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            guard let request = try CertificateRequestStore.find(id: id, on: connection) else {
                throw RequestRefusal(.invalidRequest, "request \(id.uuidString.lowercased()) no longer exists")
            }
            if request.status.isFinal || (!throughApproval && request.status == .pendingApproval) { return request }
            onWait(request.status.rawValue)
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { throw TimedOut(requestId: id, status: request.status.rawValue, timeout: timeout) }
            _ = try connection.waitForNotifications(timeout: min(0.5, left))
        }
    }
}
