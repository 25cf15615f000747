import Foundation
import Postgres

/// The plans of every statement a body runs on a connection — those inside SQL and PL/pgSQL
/// functions included — read with auto_explain (ANALYZE, BUFFERS) reported as notices. Needs a
/// role that may LOAD auto_explain (a superuser, as in the embedded cluster); otherwise it
/// returns one line saying why. The settings are put back after the body.
enum PlanCapture {
    static func plans(on c: Connection, _ body: () throws -> Void) throws -> [String] {
        do {
            try c.execute("LOAD 'auto_explain'")
        } catch {
            try body()
            return ["(no plan: auto_explain cannot be loaded here: \(error))"]
        }
        let settings = ["log_min_duration": "0", "log_nested_statements": "on", "log_analyze": "on", "log_buffers": "on",
                        "log_timing": "on", "log_level": "notice"]
        for (name, value) in settings { _ = try c.query("SELECT set_config($1, $2, false)", ["auto_explain.\(name)", value]) }
        let notices = BenchLocked<[String]>([])
        c.onNotice = { message in notices.update { $0.append(message) } }
        defer {
            c.onNotice = nil
            _ = try? c.query("SELECT set_config('auto_explain.log_min_duration', '-1', false)")
        }
        try body()
        return distinct(notices.value.filter { $0.contains("Query Text:") })
    }

    /// One plan per statement text, in order of first appearance; a statement that ran more than
    /// once (a function called per row) says how often.
    static func distinct(_ plans: [String]) -> [String] {
        var order: [String] = []
        var first: [String: String] = [:]
        var count: [String: Int] = [:]
        for plan in plans {
            // The same statement with the same plan shape: the text without its numbers (times, row counts).
            let body = plan.components(separatedBy: "Query Text:").last ?? plan
            let text = String(String.UnicodeScalarView(body.unicodeScalars.filter { !("0"..."9").contains($0) }))
            if first[text] == nil {
                order.append(text)
                first[text] = plan
            }
            count[text, default: 0] += 1
        }
        return order.map { text in
            let n = count[text] ?? 1
            return n > 1 ? "(ran \(n) times; the first:)\n" + first[text]! : first[text]!
        }
    }
}
