import CertbusHTTP
import Foundation

/// What probing one discovery target gave.
public struct DiscoveryFinding: Sendable {
    public var target: HostPort
    public var result: Result<TLSProbeResult, TLSProbeError>
}

/// Probes many targets at once on a bounded number of threads (probes block on sockets with
/// deadlines, so they do not run on Swift's cooperative pool).
enum ProbeFanOut {
    /// Probes every target (SNI = the host when it is a name) with at most `width` in flight; results
    /// in target order. `progress` is called after each probe (from a probe thread).
    static func probe(
        _ targets: [HostPort], timeout: Double, width: Int, progress: @escaping @Sendable () -> Void = {}
    ) -> [DiscoveryFinding] {
        let results = LockedArray<DiscoveryFinding?>(repeating: nil, count: targets.count)
        let next = LockedCounter()
        let group = DispatchGroup()
        for _ in 0..<max(1, min(width, targets.count)) {
            group.enter()
            let thread = Thread {
                while true {
                    let index = next.take()
                    guard index < targets.count else { break }
                    let target = targets[index]
                    let sni = NetworkHost.isIPAddress(target.host) ? nil : target.host
                    let result: Result<TLSProbeResult, TLSProbeError>
                    do throws(TLSProbeError) {
                        result = .success(try TLSProbe.probe(host: target.host, port: target.port, serverName: sni, timeout: timeout))
                    } catch {
                        result = .failure(error)
                    }
                    results.set(index, DiscoveryFinding(target: target, result: result))
                    progress()
                }
                group.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        group.wait()
        return results.values.compactMap { $0 }
    }
}

/// A fixed-size array written from several threads.
final class LockedArray<Element>: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [Element]

    init(repeating value: Element, count: Int) { storage = Array(repeating: value, count: count) }

    func set(_ index: Int, _ value: Element) { lock.withLock { storage[index] = value } }
    var values: [Element] { lock.withLock { storage } }
}

/// A counter handing out 0, 1, 2, ... to several threads.
final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0

    func take() -> Int {
        lock.withLock {
            defer { value += 1 }
            return value
        }
    }
}
