import Foundation
import PKI

/// Where a cluster's files are: the data directory actually used, the socket
/// directory, and the files certbus keeps next to them.
///
/// Pure path logic, decided once per `EmbeddedCluster`:
/// - If the requested directory holds a relocation pointer file, the data
///   directory is the path written in it.
/// - Else, if a service account must run the server (we are root), the cluster
///   is not yet initialised there, and that account cannot traverse the path
///   to the requested directory, the data directory is relocated to
///   `/var/tmp/certbus-<sha256(requested)[0..<16]>/postgres`.
/// - Else the data directory is the requested one.
///
/// The socket lives in the data directory unless `<dir>/.s.PGSQL.<port>`
/// would exceed the 107-byte `sun_path` limit; then it lives in
/// `/tmp/certbus-<sha256(data dir)[0..<12]>`.
struct ClusterLayout: Sendable, Equatable {
    /// The file left in the requested directory when the cluster was relocated; it holds the real path.
    static let pointerFileName = "CERTBUS_RELOCATED_CLUSTER"
    /// The longest socket path a unix domain socket address can hold (sun_path minus its NUL).
    static let maximumSocketPathLength = 107

    /// The directory the caller asked for (absolute, standardised).
    var requestedDirectory: String
    /// The directory that holds (or will hold) `PG_VERSION`.
    var dataDirectory: String
    /// The directory of the `.s.PGSQL.<port>` socket.
    var socketDirectory: String
    /// The socket's port number.
    var port: Int

    /// True if the data directory is not the requested one.
    var isRelocated: Bool { dataDirectory != requestedDirectory }
    /// The pointer file in the requested directory (only written when relocated).
    var pointerFile: String { requestedDirectory + "/" + Self.pointerFileName }
    /// The lock file serialising initdb/start/stop between processes.
    var lockFile: String { requestedDirectory + ".lock" }
    /// The server log written by `pg_ctl -l`.
    var logFile: String { dataDirectory + "/log/server.log" }
    /// The socket file's path.
    var socketPath: String { socketDirectory + "/.s.PGSQL.\(port)" }
    /// The relocation root (`/var/tmp/certbus-…`) when relocated, else nil.
    var relocationRoot: String? {
        isRelocated ? (dataDirectory as NSString).deletingLastPathComponent : nil
    }
    /// True if the socket lives outside the data directory.
    var hasSeparateSocketDirectory: Bool { socketDirectory != dataDirectory }

    /// Decides the layout for `requested`. `needsRelocation` is asked only when
    /// there is no pointer and no initialised cluster at `requested`.
    static func resolve(
        requested: String, port: Int, fileExists: (String) -> Bool = { FileManager.default.fileExists(atPath: $0) },
        readPointer: (String) -> String? = { try? String(contentsOfFile: $0, encoding: .utf8) },
        needsRelocation: (String) -> Bool
    ) -> ClusterLayout {
        let requested = absolutePath(requested)
        var data = requested
        if let pointer = readPointer(requested + "/" + pointerFileName) {
            let target = pointer.trimmingCharacters(in: .whitespacesAndNewlines)
            if !target.isEmpty { data = target }
        } else if !fileExists(requested + "/PG_VERSION"), needsRelocation(requested) {
            data = relocatedDataDirectory(for: requested)
        }
        return ClusterLayout(
            requestedDirectory: requested, dataDirectory: data, socketDirectory: socketDirectory(for: data, port: port),
            port: port)
    }

    /// `/var/tmp/certbus-<hash>/postgres` for a requested path.
    static func relocatedDataDirectory(for requested: String) -> String {
        "/var/tmp/certbus-\(SHA256.hexDigest(Data(requested.utf8)).prefix(16))/postgres"
    }

    /// The data directory itself if the socket path fits in `sun_path`, else a short `/tmp` directory.
    static func socketDirectory(for dataDirectory: String, port: Int) -> String {
        if (dataDirectory + "/.s.PGSQL.\(port)").utf8.count <= maximumSocketPathLength { return dataDirectory }
        return "/tmp/certbus-\(SHA256.hexDigest(Data(dataDirectory.utf8)).prefix(12))"
    }

    /// `path` made absolute against the current directory, with `.`/`..` and duplicate slashes removed.
    static func absolutePath(_ path: String) -> String {
        let base = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        var parts: [Substring] = []
        for part in base.split(separator: "/") {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// The nearest existing ancestor directory of `path` (never `path` itself).
    static func nearestExistingAncestor(of path: String, fileExists: (String) -> Bool) -> String {
        var current = (path as NSString).deletingLastPathComponent
        while current != "/" && !current.isEmpty && !fileExists(current) {
            current = (current as NSString).deletingLastPathComponent
        }
        return current.isEmpty ? "/" : current
    }
}
