/// certbus's own version and the toolchain it was built with.
enum CertbusVersion {
    /// The release version of this build.
    static let current = "0.1.0"

    /// The Swift compiler version this binary was built with, e.g. "6.3".
    static var swift: String {
        #if compiler(>=7.0)
            return "7.0 or newer"
        #elseif compiler(>=6.3)
            return "6.3"
        #elseif compiler(>=6.2)
            return "6.2"
        #elseif compiler(>=6.1)
            return "6.1"
        #else
            return "6.0"
        #endif
    }
}
