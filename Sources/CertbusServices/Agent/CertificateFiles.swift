import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where an agent writes one endpoint's files: `<directory>/cert.pem` (leaf), `chain.pem`
/// (intermediates), `fullchain.pem` (leaf + intermediates) and `key.pem` (private key, mode 0600).
public struct CertificateFiles: Sendable, Equatable {
    /// The endpoint's folder.
    public var directory: String

    public init(directory: String) { self.directory = directory }

    public var certificate: String { path("cert.pem") }
    public var chain: String { path("chain.pem") }
    public var fullChain: String { path("fullchain.pem") }
    public var key: String { path("key.pem") }

    func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }

    /// Installs the files atomically: each is written to a temporary file in the same folder with its
    /// final mode (key 0600, certificates 0644), flushed to disk, then renamed over the old one — chain
    /// files first, the key, the leaf last — so a reader never sees a half-written file. The folder is
    /// created with mode 0700 when missing. Throws `AgentFileError` naming the file.
    public func install(certificatePEM: String, chainPEM: String, keyPEM: String) throws(AgentFileError) {
        try AtomicFile.makeDirectory(directory)
        let fullChain = certificatePEM.hasSuffix("\n") ? certificatePEM + chainPEM : certificatePEM + "\n" + chainPEM
        let staged = [
            (chain, chainPEM, mode_t(0o644)), (self.fullChain, fullChain, mode_t(0o644)), (key, keyPEM, mode_t(0o600)),
            (certificate, certificatePEM, mode_t(0o644)),
        ]
        var temporaries: [(String, String)] = []
        do throws(AgentFileError) {
            for (path, contents, mode) in staged {
                temporaries.append((try AtomicFile.stage(contents, beside: path, mode: mode), path))
            }
            for (temporary, path) in temporaries {
                guard rename(temporary, path) == 0 else { throw AgentFileError(path: path, operation: "rename", errno: errno) }
            }
        } catch {
            for (temporary, _) in temporaries { unlink(temporary) }
            throw error
        }
        AtomicFile.syncDirectory(directory)
    }
}

/// A file operation of the agent that failed.
public struct AgentFileError: Error, CustomStringConvertible, Sendable, Equatable {
    public var path: String
    public var operation: String
    public var reason: String

    init(path: String, operation: String, errno code: Int32) {
        self.path = path
        self.operation = operation
        self.reason = String(cString: strerror(code))
    }

    init(path: String, operation: String, reason: String) {
        self.path = path
        self.operation = operation
        self.reason = reason
    }

    public var description: String { "cannot \(operation) \(path): \(reason)" }
}

/// Writing files so that they appear whole or not at all.
enum AtomicFile {
    /// Writes `contents` to a new temporary file next to `path` (created with `mode`, owner only
    /// until then), flushes it, and returns its path.
    static func stage(_ contents: String, beside path: String, mode: mode_t) throws(AgentFileError) -> String {
        let temporary = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else { throw AgentFileError(path: temporary, operation: "create", errno: errno) }
        defer { close(fd) }
        // open() applies the umask; set the exact mode.
        guard fchmod(fd, mode) == 0 else {
            let code = errno
            unlink(temporary)
            throw AgentFileError(path: temporary, operation: "chmod", errno: code)
        }
        let bytes = Array(contents.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { systemWrite(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                let code = errno
                unlink(temporary)
                throw AgentFileError(path: temporary, operation: "write", errno: code)
            }
            offset += n
        }
        guard fsync(fd) == 0 else {
            let code = errno
            unlink(temporary)
            throw AgentFileError(path: temporary, operation: "sync", errno: code)
        }
        return temporary
    }

    /// Writes `contents` to `path` atomically with `mode`.
    static func write(_ contents: String, to path: String, mode: mode_t) throws(AgentFileError) {
        let temporary = try stage(contents, beside: path, mode: mode)
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw AgentFileError(path: path, operation: "rename", errno: code)
        }
        syncDirectory((path as NSString).deletingLastPathComponent)
    }

    /// Creates `directory` (and parents) with mode 0700 when it does not exist; refuses a non-directory.
    static func makeDirectory(_ directory: String) throws(AgentFileError) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw AgentFileError(path: directory, operation: "use", reason: "it exists and is not a directory")
            }
            return
        }
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw AgentFileError(path: directory, operation: "create directory", reason: "\(error.localizedDescription)")
        }
    }

    /// Flushes a directory's entries (best effort) so renames survive a crash.
    static func syncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }
}

/// write(2), named apart from `AtomicFile.write`.
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.write(fd, buffer, count)
    #else
    Darwin.write(fd, buffer, count)
    #endif
}
