import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The standard `process_*` series of this process (the names every Prometheus client library
/// uses, so existing dashboards work): resident and virtual memory, CPU time, start time, open
/// file descriptors. Read from `/proc/self` on Linux; elsewhere nothing is reported.
public enum ProcessMetrics {
    /// The families, read now. Series whose source cannot be read are left out.
    public static func collect() -> [MetricFamily] {
        var families: [MetricFamily] = []
        let page = Double(sysconf(Int32(_SC_PAGESIZE)))
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        if let statm = read("/proc/self/statm"), let memory = parseStatm(statm) {
            families.append(.gauge("process_resident_memory_bytes", help: "Resident memory size in bytes.", [([], Double(memory.residentPages) * page)]))
            families.append(.gauge("process_virtual_memory_bytes", help: "Virtual memory size in bytes.", [([], Double(memory.virtualPages) * page)]))
        }
        if let stat = read("/proc/self/stat"), let times = parseStat(stat), ticks > 0 {
            families.append(.counter(
                "process_cpu_seconds_total", help: "Total user and system CPU time spent in seconds.",
                [([], Double(times.userTicks + times.systemTicks) / ticks)]))
            if let system = read("/proc/stat"), let boot = parseBootTime(system) {
                families.append(.gauge(
                    "process_start_time_seconds", help: "Start time of the process since unix epoch in seconds.",
                    [([], Double(boot) + Double(times.startTicks) / ticks)]))
            }
        }
        if let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            families.append(.gauge("process_open_fds", help: "Number of open file descriptors.", [([], Double(descriptors.count))]))
        }
        return families
    }

    /// Pages of virtual and resident memory from the text of `/proc/<pid>/statm`.
    public static func parseStatm(_ text: String) -> (virtualPages: UInt64, residentPages: UInt64)? {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count >= 2, let size = UInt64(fields[0]), let resident = UInt64(fields[1]) else { return nil }
        return (size, resident)
    }

    /// User and system CPU ticks and the start time (ticks after boot) from the text of
    /// `/proc/<pid>/stat`. The command name (field 2) may hold spaces and parentheses, so fields
    /// are counted from the last `)`.
    public static func parseStat(_ text: String) -> (userTicks: UInt64, systemTicks: UInt64, startTicks: UInt64)? {
        guard let close = text.lastIndex(of: ")") else { return nil }
        // After ")": field 3 (state) is at index 0, so field n is at index n - 3.
        let fields = text[text.index(after: close)...].split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count > 19, let user = UInt64(fields[11]), let system = UInt64(fields[12]),
            let start = UInt64(fields[19])
        else { return nil }
        return (user, system, start)
    }

    /// The boot time (seconds since the epoch) from the `btime` line of `/proc/stat`.
    public static func parseBootTime(_ text: String) -> UInt64? {
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return UInt64(line.dropFirst(6).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    private static func read(_ path: String) -> String? {
        // /proc files report a size of 0: read until the end instead of trusting the size.
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let data = try? handle.readToEnd() else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}
