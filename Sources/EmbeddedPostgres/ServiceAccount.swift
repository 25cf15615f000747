import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The non-root OS user that owns and runs a cluster when certbus runs as root.
///
/// PostgreSQL refuses to run as root, so a root process runs initdb, pg_ctl and
/// postgres as this user (through `runuser -u USER --`, or `setpriv` where
/// runuser is missing) and hands it the data directory.
struct ServiceAccount: Sendable, Equatable {
    /// The user name.
    var name: String
    /// The user's id.
    var uid: UInt32
    /// The user's primary group id.
    var gid: UInt32

    /// True if this process runs as root and therefore needs a service account.
    static var isRoot: Bool { geteuid() == 0 }

    /// The account to use when running as root: `postgres` if it exists, else
    /// `certbus`, which is created as a system user if needed. `nil` when not root.
    static func resolveForCurrentProcess() throws -> ServiceAccount? {
        guard isRoot else { return nil }
        if let account = lookup("postgres") ?? lookup("certbus") { return account }
        guard let useradd = ProgramRunner.which("useradd", extraDirectories: ["/usr/sbin", "/sbin"]) else {
            throw EmbeddedClusterError(
                what: """
                    running as root, and there is neither a 'postgres' nor a 'certbus' user to run PostgreSQL as \
                    (PostgreSQL refuses to run as root), and useradd is missing; create one with: \
                    useradd --system certbus
                    """)
        }
        let command = [
            useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
            "--shell", "/usr/sbin/nologin", "certbus",
        ]
        let result = try ProgramRunner.run(command)
        // Another process may have created it at the same moment: look again before failing.
        if let account = lookup("certbus") { return account }
        throw EmbeddedClusterError(
            what: "could not create the system user 'certbus' to run PostgreSQL as (it refuses to run as root)",
            command: command, output: result.output)
    }

    /// The account named `name`, if it exists.
    static func lookup(_ name: String) -> ServiceAccount? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>? = nil
        var buffer = [CChar](repeating: 0, count: 16_384)
        let status = getpwnam_r(name, &entry, &buffer, buffer.count, &result)
        guard status == 0, result != nil else { return nil }
        return ServiceAccount(name: name, uid: UInt32(entry.pw_uid), gid: UInt32(entry.pw_gid))
    }

    /// `command` wrapped so that it runs as this account.
    func wrap(_ command: [String]) -> [String] {
        if let runuser = ProgramRunner.which("runuser", extraDirectories: ["/usr/sbin", "/sbin"]) {
            return [runuser, "-u", name, "--"] + command
        }
        if let setpriv = ProgramRunner.which("setpriv", extraDirectories: ["/usr/bin", "/bin"]) {
            return [setpriv, "--reuid=\(uid)", "--regid=\(gid)", "--init-groups", "--"] + command
        }
        // Neither exists: running as root will fail with PostgreSQL's own clear message.
        return command
    }

    /// True if this account can search (traverse) `directory`, i.e. reach what is inside it.
    func canTraverse(_ directory: String) -> Bool {
        guard let test = ProgramRunner.which("test", extraDirectories: ["/usr/bin", "/bin"]) else { return true }
        return (try? ProgramRunner.run(wrap([test, "-x", directory])))?.succeeded ?? false
    }

    /// Makes this account the owner of `path` (not recursive).
    func takeOwnership(of path: String) throws {
        if chown(path, uid, gid) != 0 {
            throw EmbeddedClusterError(
                what: "could not give \(path) to user \(name): \(String(cString: strerror(errno)))")
        }
    }
}
