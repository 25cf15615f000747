import CertbusCore

/// The handlers a worker runs, one per kind.
public struct HandlerRegistry: Sendable {
    private var handlers: [JobKind: any JobHandler] = [:]

    /// An empty registry.
    public init() {}

    /// A registry holding `handlers`; a later handler for the same kind replaces an earlier one.
    public init(_ handlers: [any JobHandler]) {
        for handler in handlers { register(handler) }
    }

    /// Adds (or replaces) the handler for `handler.kind`.
    public mutating func register(_ handler: any JobHandler) {
        handlers[handler.kind] = handler
    }

    /// The handler for a kind, if any.
    public func handler(for kind: JobKind) -> (any JobHandler)? { handlers[kind] }

    /// The kinds with a handler, sorted by name.
    public var kinds: [JobKind] { handlers.keys.sorted { $0.rawValue < $1.rawValue } }

    /// Each kind's maximum run time.
    public var maximumRunTimes: [JobKind: Double] { handlers.mapValues(\.maximumRunTime) }
}
