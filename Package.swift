// swift-tools-version:6.0
// certbus — certificate lifecycle management over PostgreSQL.
// No package dependencies: C libraries come in as system library targets.
import PackageDescription

let package = Package(
    name: "certbus",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "certbus", targets: ["certbus"]),
    ],
    targets: [
        // System libraries. Module maps and small static-inline shims only.
        .systemLibrary(
            name: "CLibPQ", pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"]), .brew(["libpq"])]),
        .systemLibrary(
            name: "COpenSSL", pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]),

        // Safe Swift over libpq: the only module that touches libpq.
        .target(name: "Postgres", dependencies: ["CLibPQ"]),
        // A private PostgreSQL cluster started from the system's binaries (PKI for SHA-256 only).
        .target(name: "EmbeddedPostgres", dependencies: ["PKI"]),
        // Keys, CSRs, certificates, CRLs, hashing, signing, secrets at rest.
        .target(name: "PKI", dependencies: ["COpenSSL"]),
        // Minimal HTTP/1.1 client and server (plain or TLS via OpenSSL).
        .target(name: "CertbusHTTP", dependencies: ["COpenSSL"]),
        // Plain domain types and pure logic; no I/O.
        .target(name: "CertbusCore"),
        // The small command-line argument parser.
        .target(name: "CertbusArguments"),
        // The Prometheus text format, this process's counters and histograms, process_* series.
        .target(name: "CertbusMetrics"),
        // Migrations and the database configuration (URL or embedded cluster).
        .target(name: "CertbusDatabase", dependencies: ["Postgres", "EmbeddedPostgres"]),
        // The job queue, leadership, channels.
        .target(name: "CertbusBus", dependencies: ["Postgres", "CertbusCore", "CertbusDatabase", "CertbusMetrics"]),
        // Handlers, CA connectors, scheduler, dispatcher, alerts, audit sealer, agent.
        .target(
            name: "CertbusServices",
            dependencies: ["Postgres", "PKI", "CertbusHTTP", "CertbusCore", "CertbusDatabase", "CertbusBus", "CertbusMetrics"]),
        // Benchmarks (`certbus bench ...`): nothing in the product depends on this module.
        .target(
            name: "CertbusBench",
            dependencies: ["Postgres", "PKI", "CertbusCore", "CertbusDatabase", "CertbusBus", "CertbusServices", "CertbusMetrics"],
            exclude: ["Queue/pgbench"]),  // pgbench scripts, read at run time (PgbenchScripts)
        // Test support: throwaway databases on a per-process embedded cluster.
        .target(name: "CertbusTesting", dependencies: ["Postgres", "EmbeddedPostgres", "CertbusDatabase"]),
        // The command line.
        .executableTarget(
            name: "certbus",
            dependencies: [
                "Postgres", "EmbeddedPostgres", "PKI", "CertbusHTTP", "CertbusCore", "CertbusArguments",
                "CertbusDatabase", "CertbusBus", "CertbusServices", "CertbusBench", "CertbusMetrics",
            ]),

        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "CertbusTesting"]),
        .testTarget(name: "EmbeddedPostgresTests", dependencies: ["EmbeddedPostgres"]),
        .testTarget(name: "PKITests", dependencies: ["PKI"]),
        .testTarget(name: "CertbusHTTPTests", dependencies: ["CertbusHTTP", "PKI", "CertbusTesting"]),
        .testTarget(name: "CertbusCoreTests", dependencies: ["CertbusCore"]),
        .testTarget(name: "CertbusArgumentsTests", dependencies: ["CertbusArguments"]),
        .testTarget(name: "CertbusDatabaseTests", dependencies: ["CertbusDatabase", "CertbusTesting"]),
        .testTarget(name: "CertbusBusTests", dependencies: ["CertbusBus", "CertbusTesting"]),
        .testTarget(
            name: "CertbusServicesTests",
            dependencies: ["CertbusServices", "CertbusTesting", "PKI", "CertbusHTTP"]),
        .testTarget(name: "CertbusCLITests", dependencies: ["CertbusTesting", "certbus"]),
        .testTarget(name: "CertbusBenchTests", dependencies: ["CertbusBench", "CertbusTesting"]),
        .testTarget(name: "CertbusMetricsTests", dependencies: ["CertbusMetrics"]),
    ],
    swiftLanguageModes: [.v6]
)
