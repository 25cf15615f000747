import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a rendered report to a file so that it appears whole or not at all: the text goes
/// to a temporary file beside it, is flushed to disk and renamed over the target (`AtomicFile`),
/// so a crash or a full disk never leaves half a report and a reader never sees one.
public enum ReportFile {
    /// Throws `ReportError` when `path` cannot take a report: it is a directory, or its folder
    /// does not exist. `write` checks the same; call this first to fail before any work.
    public static func checkDestination(_ path: String) throws(ReportError) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw ReportError("cannot write the report to \(path): it is a directory; give a file name such as \((path as NSString).appendingPathComponent("report.html"))")
        }
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty {
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ReportError("cannot write the report to \(path): the folder \(folder) does not exist")
            }
        }
    }

    /// Writes `text` to `path` (replacing an existing file) with the permissions a new file
    /// gets under the process's umask. Throws `ReportError` saying why when `path` is a
    /// directory, its folder does not exist, or the write fails; nothing is left behind then.
    public static func write(_ text: String, to path: String) throws(ReportError) {
        try checkDestination(path)
        let mask = umask(0)
        umask(mask)
        do {
            try AtomicFile.write(text, to: path, mode: 0o666 & ~mask)
        } catch {
            throw ReportError("cannot write the report to \(path): \(error.reason)")
        }
    }
}
