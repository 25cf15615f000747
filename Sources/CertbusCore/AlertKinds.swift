/// Alert types of the seed's Alerts page.
public enum AlertType: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// A certificate is approaching expiration.
    case expiringSoon = "EXPIRING_SOON"
    /// A critical failure (failed job, renewal failure, failed deployment validation).
    case error = "ERROR"
    /// An operational warning (agent offline, degraded validation).
    case warn = "WARN"

    public var description: String { rawValue }
}

/// Alert severity: ERROR (red) or WARN (orange).
public enum AlertSeverity: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case error = "ERROR"
    case warn = "WARN"

    public var description: String { rawValue }
}

/// The kind of object an alert is about.
public enum AlertEntityType: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case certificate = "CERTIFICATE"
    case agent = "AGENT"
    case job = "JOB"
    case ca = "CA"
    case endpoint = "ENDPOINT"
    case discovery = "DISCOVERY"
    case approval = "APPROVAL"
    /// A scheduled (periodic) task, by name.
    case task = "TASK"
    /// An incident, by number (`certbus incident status ID`).
    case incident = "INCIDENT"

    public var description: String { rawValue }
}
