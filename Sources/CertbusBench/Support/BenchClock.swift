import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Timing and machine readings shared by the benchmarks.
public enum BenchClock {
    /// Wall seconds `body` took.
    public static func time(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now()
        try body()
        return seconds(since: start)
    }

    /// Wall seconds since `start`.
    public static func seconds(since start: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }

    /// The 1-minute load average (how shared the machine was), nil where /proc/loadavg is unreadable.
    public static func loadAverage() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return nil }
        return text.split(separator: " ").first.flatMap { Double($0) }
    }

    /// CPU seconds used so far by this process plus the backend `pid` (from /proc), nil if unreadable
    /// (a server on another machine).
    public static func cpuSeconds(backend pid: Int32) -> Double? {
        var usage = rusage()
        #if canImport(Glibc)
            getrusage(RUSAGE_SELF.rawValue, &usage)
        #else
            getrusage(RUSAGE_SELF, &usage)
        #endif
        let own = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command name: state is field 3, utime 14 and stime 15 (1-based in proc(5)).
        guard fields.count > 13, let utime = Double(fields[11]), let stime = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return own + (utime + stime) / ticks
    }

    /// CPU seconds (user + system) used so far by this process.
    public static func ownCPUSeconds() -> Double? {
        processCPUSeconds(getpid())
    }

    /// CPU seconds (user + system) used so far by process `pid` (from /proc), nil if unreadable
    /// (not on Linux, the process is gone, or a server on another machine).
    public static func processCPUSeconds(_ pid: Int32) -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let utime = Double(fields[11]), let stime = Double(fields[12]) else { return nil }
        return (utime + stime) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The summed CPU seconds of `pids`, nil if any is unreadable.
    public static func processCPUSeconds(_ pids: [Int32]) -> Double? {
        var total = 0.0
        for pid in pids {
            guard let seconds = processCPUSeconds(pid) else { return nil }
            total += seconds
        }
        return total
    }

    /// `end - start` when both are known.
    public static func difference(_ end: Double?, _ start: Double?) -> Double? {
        guard let end, let start else { return nil }
        return end - start
    }
}
