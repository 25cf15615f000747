import Foundation

/// Debian's Chromium (`apt-get install chromium`) run headless on a local HTML file: it renders
/// the page, saves a PNG screenshot of the window, dumps the DOM after parsing, and reports
/// every message the page wrote to its console (script errors, `console.*`, and the browser's
/// own complaints such as Content-Security-Policy violations or resources that failed to load).
///
/// Each run uses a fresh profile directory (so overlapping test runs never share a profile
/// lock) and `--no-sandbox` (Chromium refuses to run as root with its sandbox; the pages are
/// the tests' own files).
public enum HeadlessChromium {
    /// Where the browser is expected (Debian's launcher script).
    public static let executable = "/usr/bin/chromium"
    /// Whether the browser is installed.
    public static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: executable) }
    /// What to run when it is not.
    public static let installHint =
        "chromium is not installed: run `apt-get install --no-install-recommends chromium` (scripts/test does it through scripts/bootstrap --test when run as root)"

    /// What the browser made of a page.
    public struct Rendering: Sendable {
        /// The DOM serialized after the page loaded (`--dump-dom`).
        public var dom: String
        /// The text of every console message, in order (empty for a clean page).
        public var consoleMessages: [String]
        /// The screenshot, PNG.
        public var screenshot: Data
        /// Everything the browser printed on standard error, for diagnosing failures.
        public var log: String

        /// Width and height from the PNG header, or nil when the screenshot is not a PNG.
        public var screenshotSize: (width: Int, height: Int)? { PNGHeader.size(of: screenshot) }
    }

    /// The browser failed to run or to produce a screenshot; `description` says why, with its output.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Renders `file` in a window of `width` × `height` CSS pixels; throws `Failure` when the
    /// browser is missing, does not finish within `timeout` seconds, or writes no screenshot.
    public static func render(_ file: URL, width: Int = 1100, height: Int = 1600, timeout: Double = 180) throws -> Rendering {
        guard isInstalled else { throw Failure(description: installHint) }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(TestCluster.uniqueName(prefix: "chromium"))
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let screenshot = scratch.appendingPathComponent("screenshot.png")
        let result = try CapturedProcess(
            executable: URL(fileURLWithPath: executable),
            arguments: [
                "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-default-apps",
                "--user-data-dir=\(scratch.appendingPathComponent("profile").path)",
                "--enable-logging=stderr", "--v=0",
                "--window-size=\(width),\(height)", "--screenshot=\(screenshot.path)", "--dump-dom",
                file.absoluteString,
            ]
        ).finish(timeout: timeout)
        guard let png = try? Data(contentsOf: screenshot) else {
            throw Failure(description: "chromium (exit status \(result.status)) wrote no screenshot of \(file.path): \(result.error.suffix(4000))")
        }
        return Rendering(dom: result.output, consoleMessages: consoleMessages(in: result.error), screenshot: png, log: result.error)
    }

    /// The console messages in a Chromium log: the text of each `INFO:CONSOLE` line (Chromium
    /// logs every console message of the page that way with `--enable-logging=stderr`, and
    /// uncaught exceptions as "Uncaught ..." messages), plus any other line mentioning an
    /// uncaught exception.
    public static func consoleMessages(in log: String) -> [String] {
        log.split(whereSeparator: \.isNewline).compactMap { line -> String? in
            if let range = line.range(of: ":CONSOLE") {
                let rest = line[range.upperBound...]
                return String((rest.firstIndex(of: "]").map { rest[rest.index(after: $0)...] } ?? rest)
                    .trimmingCharacters(in: .whitespaces))
            }
            return line.contains("Uncaught") ? String(line) : nil
        }
    }
}

/// Reads the size out of a PNG file's IHDR chunk.
enum PNGHeader {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    static func size(of data: Data) -> (width: Int, height: Int)? {
        let bytes = [UInt8](data.prefix(24))
        guard bytes.count == 24, Array(bytes[0..<8]) == signature, Array(bytes[12..<16]) == Array("IHDR".utf8) else { return nil }
        func word(_ at: Int) -> Int { bytes[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
        return (word(16), word(20))
    }
}
