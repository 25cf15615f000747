/// Who caused something: a person, an agent, or certbus itself.
public struct Actor: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The kind of actor.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case system = "SYSTEM"
        case user = "USER"
        case agent = "AGENT"
    }

    public var kind: Kind
    /// User name, agent id, or the name of the certbus service (`scheduler`, `worker`).
    public var id: String

    public init(_ kind: Kind, _ id: String) {
        self.kind = kind
        self.id = id
    }

    /// certbus itself, identified by the service acting.
    public static func system(_ service: String) -> Actor { Actor(.system, service) }
    /// An operator; by default the OS user running the command line.
    public static func user(_ name: String) -> Actor { Actor(.user, name) }
    /// An agent by id.
    public static func agent(_ id: String) -> Actor { Actor(.agent, id) }

    public var description: String { "\(kind.rawValue):\(id)" }
}
