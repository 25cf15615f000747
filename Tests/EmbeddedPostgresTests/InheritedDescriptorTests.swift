import Foundation
import Testing

@testable import EmbeddedPostgres

/// The server `pg_ctl start` leaves running must not hold descriptors of the process that
/// started it: a parent watching such a descriptor to see its child end (Foundation's `Process`
/// does) would otherwise wait for as long as the server runs.
@Suite("Embedded cluster descriptors", .enabled(if: serverBinariesAvailable))
struct InheritedDescriptorTests {
    @Test func theServerInheritsNoDescriptorOfTheCaller() throws {
        try withScratchCluster { cluster, scratch in
            let marker = scratch.path + "/inherited-marker"
            // Opened without O_CLOEXEC, as Foundation opens the descriptor it passes to children.
            let fd = open(marker, O_CREAT | O_WRONLY, 0o600)
            #expect(fd >= 3)
            defer { close(fd) }
            try cluster.start()
            guard case .running(let pid) = cluster.status() else {
                Issue.record("not running: \(cluster.status())")
                return
            }
            let descriptors = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")
            let targets = descriptors.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)") }
            #expect(!targets.isEmpty, "the server's descriptors are readable")
            #expect(!targets.contains(marker), "the server holds the caller's descriptor: \(targets)")
        }
    }
}
