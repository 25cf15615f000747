/// The state of an embedded cluster's data directory, as seen now.
public enum EmbeddedClusterStatus: Sendable, Equatable {
    /// No cluster has been created in the data directory yet (`PG_VERSION` is missing).
    case notInitialized
    /// A cluster exists and no live server owns it (a stale `postmaster.pid` counts as stopped).
    case stopped
    /// A server is running; `pid` is its postmaster's process id.
    case running(pid: Int32)
}
