import Foundation

/// What connector factories may use to build connectors: the key-encryption key (for built-in
/// CA keys), the certbus home folder, and the process environment.
public final class CAConnectorEnvironment: @unchecked Sendable {
    /// certbus's local state folder (`$CERTBUS_HOME` or `./.certbus`).
    public let homeDirectory: String
    /// The process environment (CERTBUS_KEK_FILE, connector settings).
    public let variables: [String: String]
    private let lock = NSLock()
    private var loadedKey: KeyEncryptionKey?

    /// Creates an environment. The key-encryption key is loaded on first use.
    public init(homeDirectory: String, variables: [String: String] = ProcessInfo.processInfo.environment,
                keyEncryptionKey: KeyEncryptionKey? = nil) {
        self.homeDirectory = homeDirectory
        self.variables = variables
        loadedKey = keyEncryptionKey
    }

    /// The key-encryption key (loaded, or created at the default location, on first use).
    public func keyEncryptionKey() throws -> KeyEncryptionKey {
        lock.lock()
        defer { lock.unlock() }
        if let loadedKey { return loadedKey }
        let key = try KeyEncryptionKey.load(environment: variables, homeDirectory: homeDirectory)
        loadedKey = key
        return key
    }
}
