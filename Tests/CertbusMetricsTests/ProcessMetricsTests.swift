import CertbusMetrics
import Testing

@Suite("process_* series")
struct ProcessMetricsTests {
    @Test func parsesStatmStatAndBootTime() {
        #expect(ProcessMetrics.parseStatm("5000 1200 300 10 0 900 0\n").map { [$0.virtualPages, $0.residentPages] } == [5000, 1200])
        #expect(ProcessMetrics.parseStatm("garbage") == nil)
        // The command name may contain spaces and parentheses: fields are counted from the last ')'.
        let stat = "4242 (cert bus (x)) S 1 4242 4242 0 -1 4194560 500 0 0 0 170 35 0 0 20 0 12 0 98765 1000000 250 18446744073709551615\n"
        let parsed = ProcessMetrics.parseStat(stat)
        #expect(parsed?.userTicks == 170)
        #expect(parsed?.systemTicks == 35)
        #expect(parsed?.startTicks == 98765)
        #expect(ProcessMetrics.parseStat("1 (x) S 1 2") == nil)
        #expect(ProcessMetrics.parseBootTime("cpu  1 2 3\nbtime 1700000000\nprocesses 5\n") == 1_700_000_000)
        #expect(ProcessMetrics.parseBootTime("cpu 1\n") == nil)
    }

    @Test func readsThisProcessOnLinux() {
        #if os(Linux)
        let families = ProcessMetrics.collect()
        let names = families.map(\.name)
        #expect(names == ["process_resident_memory_bytes", "process_virtual_memory_bytes", "process_cpu_seconds_total",
                          "process_start_time_seconds", "process_open_fds"])
        let rss = families.first { $0.name == "process_resident_memory_bytes" }?.samples.first?.value ?? 0
        #expect(rss > 1_048_576)  // a Swift test process holds more than 1 MiB
        #expect(families.allSatisfy { $0.problem == nil })
        #endif
    }
}
