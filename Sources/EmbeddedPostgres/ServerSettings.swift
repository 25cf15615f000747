/// The `postgresql.conf` settings certbus writes for an embedded cluster.
///
/// They go into `certbus.conf` in the data directory, which `postgresql.conf`
/// includes; it is rewritten on every start, so `ALTER SYSTEM` settings
/// (in `postgresql.auto.conf`) still win over it.
enum ServerSettings {
    /// The file name, relative to the data directory.
    static let fileName = "certbus.conf"
    /// The line appended once to `postgresql.conf` after initdb.
    static let includeLine = "include_if_exists = '\(fileName)'  # written by certbus on every start"

    /// The defaults: unix socket only, 200 connections, 128MB shared buffers, UTC.
    static func defaults(socketDirectory: String, port: Int) -> [String: String] {
        [
            "listen_addresses": "",
            "port": String(port),
            "unix_socket_directories": socketDirectory,
            "unix_socket_permissions": "0700",
            "max_connections": "200",
            "shared_buffers": "128MB",
            "timezone": "UTC",
            "log_timezone": "UTC",
            "log_line_prefix": "%m [%p] %q%u@%d ",
        ]
    }

    /// Settings certbus manages itself; overriding them would lose the server.
    static let managedKeys: Set<String> = ["port", "unix_socket_directories", "listen_addresses"]

    /// The settings file text: defaults overridden by `overrides`, sorted by name.
    /// Throws for a setting name that is not a plain identifier, a value with a
    /// line break, or a setting certbus manages (port, socket directory, listen addresses).
    static func render(socketDirectory: String, port: Int, overrides: [String: String]) throws -> String {
        var settings = defaults(socketDirectory: socketDirectory, port: port)
        for (key, value) in overrides {
            guard !key.isEmpty, key.unicodeScalars.allSatisfy({ isNameCharacter($0) }) else {
                throw EmbeddedClusterError(what: "invalid PostgreSQL setting name \(shellQuoted(key))")
            }
            guard !value.contains(where: { $0 == "\n" || $0 == "\r" }) else {
                throw EmbeddedClusterError(what: "the value of PostgreSQL setting \(key) contains a line break")
            }
            guard !managedKeys.contains(key) else {
                throw EmbeddedClusterError(
                    what: "PostgreSQL setting \(key) is managed by certbus (use EmbeddedClusterConfiguration.port)")
            }
            settings[key] = value
        }
        var text = "# Written by certbus on every start of this cluster; edits are overwritten.\n"
        for key in settings.keys.sorted() {
            text += "\(key) = \(quoted(settings[key]!))\n"
        }
        return text
    }

    private static func isNameCharacter(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
            || scalar == "_" || scalar == "."
    }

    /// A configuration-file string literal: single quotes, embedded quotes and backslashes doubled.
    static func quoted(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "''") + "'"
    }
}
