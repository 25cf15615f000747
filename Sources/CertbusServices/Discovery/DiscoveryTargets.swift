import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Parses discovery targets: `host:port`, `[ipv6]:port`, and small address ranges in CIDR
/// notation with a port, `192.0.2.0/28:443` or `[2001:db8::/124]:443`. Pure.
public enum DiscoveryTargets {
    /// Largest address range one entry may expand to (an IPv4 /24, an IPv6 /120).
    public static let maximumRangeSize = 256
    /// Most targets one discovery may probe.
    public static let maximumTargets = 1024

    /// Expands `entries` into distinct targets, in order. Throws on the first malformed entry, naming it.
    public static func parse(_ entries: [String]) throws(DiscoveryTargetError) -> [HostPort] {
        var targets: [HostPort] = []
        var seen: Set<HostPort> = []
        let cleaned = entries.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !cleaned.isEmpty else { throw DiscoveryTargetError(entry: "", reason: "no targets given") }
        for entry in cleaned {
            for target in try expand(entry) where seen.insert(target).inserted {
                targets.append(target)
                if targets.count > maximumTargets {
                    throw DiscoveryTargetError(
                        entry: entry, reason: "more than \(maximumTargets) targets in one discovery; split it into several")
                }
            }
        }
        return targets
    }

    /// Splits a comma-separated list (as given to `--targets`) and parses it.
    public static func parse(list: String) throws(DiscoveryTargetError) -> [HostPort] {
        try parse(list.split(separator: ",").map(String.init))
    }

    static func expand(_ entry: String) throws(DiscoveryTargetError) -> [HostPort] {
        guard entry.contains("/") else {
            do {
                return [try HostPort(parsing: entry)]
            } catch {
                throw DiscoveryTargetError(entry: entry, reason: error.reason)
            }
        }
        // A range: "a.b.c.d/nn:port" or "[v6/nn]:port".
        let rangeText: Substring
        let portText: Substring
        if entry.hasPrefix("[") {
            guard let close = entry.firstIndex(of: "]"), entry[entry.index(after: close)...].hasPrefix(":") else {
                throw DiscoveryTargetError(entry: entry, reason: "expected [address/prefix]:port")
            }
            rangeText = entry[entry.index(after: entry.startIndex)..<close]
            portText = entry[entry.index(close, offsetBy: 2)...]
        } else {
            guard let colon = entry.lastIndex(of: ":") else {
                throw DiscoveryTargetError(entry: entry, reason: "expected address/prefix:port, e.g. 192.0.2.0/28:443")
            }
            rangeText = entry[..<colon]
            portText = entry[entry.index(after: colon)...]
        }
        guard let port = NetworkHost.port(portText) else {
            throw DiscoveryTargetError(entry: entry, reason: "port \"\(portText)\" is not a number between 1 and 65535")
        }
        let parts = rangeText.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let prefix = Int(parts[1]), parts[1].allSatisfy(\.isASCII) else {
            throw DiscoveryTargetError(entry: entry, reason: "expected address/prefix, e.g. 192.0.2.0/28")
        }
        let address = String(parts[0])
        var bytes: [UInt8]
        if NetworkHost.isIPv4(address) {
            var v4 = in_addr()
            _ = inet_pton(AF_INET, address, &v4)
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
        } else if NetworkHost.isIPv6(address) {
            var v6 = in6_addr()
            _ = inet_pton(AF_INET6, address, &v6)
            bytes = withUnsafeBytes(of: &v6) { Array($0) }
        } else {
            throw DiscoveryTargetError(entry: entry, reason: "\"\(address)\" is not an IP address (ranges need an address)")
        }
        let bits = bytes.count * 8
        guard (0...bits).contains(prefix) else {
            throw DiscoveryTargetError(entry: entry, reason: "prefix /\(prefix) is not between /0 and /\(bits)")
        }
        let hostBits = bits - prefix
        guard hostBits <= 8 else {
            let smallest = bits - 8
            throw DiscoveryTargetError(
                entry: entry,
                reason: "range /\(prefix) has \(hostBits >= 62 ? "too many" : String(1 << hostBits)) addresses; at most \(maximumRangeSize) (/\(smallest)) per range")
        }
        // Clear the host bits (the last byte only, since hostBits <= 8).
        let last = bytes.count - 1
        let mask: UInt8 = hostBits == 8 ? 0 : UInt8(0xFF << hostBits & 0xFF)
        guard bytes[last] & ~mask == 0 else {
            throw DiscoveryTargetError(entry: entry, reason: "\(address) is not the first address of a /\(prefix) range")
        }
        bytes[last] &= mask
        var targets: [HostPort] = []
        for offset in 0..<(1 << hostBits) {
            var address = bytes
            address[last] |= UInt8(offset)
            let family = address.count == 4 ? AF_INET : AF_INET6
            var buffer = [CChar](repeating: 0, count: 64)
            _ = address.withUnsafeBytes { raw in inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) }
            let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            do {
                targets.append(try HostPort(host: text, port: port))
            } catch {
                throw DiscoveryTargetError(entry: entry, reason: error.reason)
            }
        }
        return targets
    }
}

/// A malformed or oversize discovery target.
public struct DiscoveryTargetError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The entry as given.
    public var entry: String
    /// What is wrong with it.
    public var reason: String
    public var description: String {
        entry.isEmpty ? "invalid discovery targets: \(reason)" : "invalid discovery target \"\(entry)\": \(reason)"
    }
}
