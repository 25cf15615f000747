/// Where and how a private PostgreSQL cluster lives.
///
/// Only `dataDirectory` is required. The cluster listens on a unix socket only
/// (`listen_addresses = ''`), so `trust` authentication is confined to the OS
/// users that can open the socket (mode 0700: the cluster's owner and root).
public struct EmbeddedClusterConfiguration: Sendable {
    /// The cluster's data directory, e.g. `"<cwd>/.certbus/postgres"`.
    /// A relative path is taken relative to the current directory when the
    /// cluster is created. When running as root the cluster may be relocated;
    /// see `EmbeddedCluster`.
    public var dataDirectory: String
    /// The database superuser created by `initdb -U`. Only used at initialisation.
    public var superuser: String = "certbus"
    /// Extra `postgresql.conf` settings, e.g. `["fsync": "off"]` for tests.
    /// They override the defaults (see `ServerSettings.defaults`) and are
    /// rewritten on every `start()`, so they apply from the next start on.
    public var settings: [String: String] = [:]
    /// The directory holding `initdb`, `pg_ctl` and `postgres`; `nil` means
    /// discovered (`pg_config --bindir`, then the newest `/usr/lib/postgresql/*/bin`,
    /// then `PATH`).
    public var binDirectory: String? = nil
    /// The port number. Nothing listens on TCP; the port only names the socket
    /// file `.s.PGSQL.<port>`, so clusters with different socket directories may share it.
    public var port: Int = 5432

    /// A configuration with defaults for everything but the data directory.
    public init(dataDirectory: String) {
        self.dataDirectory = dataDirectory
    }
}
