import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Files the CLI reads from its arguments (CSRs, secrets): `-` is standard input, sizes are
/// bounded, and a file that cannot be read is reported with the system's reason.
enum InputFile {
    /// The contents of `path` (or standard input for `-`) as text. `what` names the file in
    /// errors ("the CSR file"); more than `limit` bytes is refused.
    static func text(_ path: String, what: String, limit: Int = 1 << 20) throws -> String {
        String(decoding: try data(path, what: what, limit: limit), as: UTF8.self)
    }

    /// The bytes of `path` (or standard input for `-`); see ``text(_:what:limit:)``.
    static func data(_ path: String, what: String, limit: Int = 1 << 20) throws -> Data {
        let handle: FileHandle
        if path == "-" {
            handle = FileHandle.standardInput
        } else {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw CommandFailure("cannot read \(what) \(path): \(String(cString: strerror(errno)))") }
            var info = stat()
            if fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
                close(fd)
                throw CommandFailure("cannot read \(what) \(path): it is a directory")
            }
            handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        }
        var data = Data()
        do {
            while data.count <= limit, let chunk = try handle.read(upToCount: 64 * 1024), !chunk.isEmpty {
                data.append(chunk)
            }
        } catch {
            throw CommandFailure("cannot read \(what) \(path == "-" ? "from standard input" : path): \(error.localizedDescription)")
        }
        guard data.count <= limit else {
            throw CommandFailure("\(what) \(path == "-" ? "on standard input" : path) is larger than \(limit / 1024) KiB; is it the right file?")
        }
        return data
    }
}
