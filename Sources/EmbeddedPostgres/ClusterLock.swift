import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An exclusive `flock` on a lock file, held for the duration of `withLock`.
///
/// Serialises initdb/start/stop of one cluster between processes and between
/// threads of one process (each acquisition opens the file anew, and flock
/// locks belong to the open file description). The kernel releases it if the
/// process dies. The lock file is left in place: deleting it while others wait
/// on it would let two holders in at once.
enum ClusterLock {
    /// Runs `body` while holding the lock on `path`, waiting at most `timeout` seconds for it.
    static func withLock<T>(_ path: String, timeout: Double, _ body: () throws -> T) throws -> T {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw EmbeddedClusterError(what: "could not open lock file \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let deadline = Date().addingTimeInterval(timeout)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let error = errno
            guard error == EWOULDBLOCK || error == EINTR else {
                throw EmbeddedClusterError(what: "could not lock \(path): \(String(cString: strerror(error)))")
            }
            guard Date() < deadline else {
                throw EmbeddedClusterError(
                    what: "timed out after \(Int(timeout))s waiting for the lock \(path) (another certbus is starting or stopping this cluster)")
            }
            usleep(50_000)
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}
