import Foundation

/// A counter with labels, kept by this process: one monotonic value per combination of label
/// values. Thread-safe. Series named in `preset` are shown (as 0) before anything is counted,
/// so `rate()` and alerts see them from the first scrape.
public final class LabeledCounter: @unchecked Sendable {
    /// The family name (ends in `_total`).
    public let name: String
    /// The `# HELP` text.
    public let help: String
    /// The label names, in order.
    public let labelNames: [String]
    private let lock = NSLock()
    private var values: [[String]: Double] = [:]

    /// A counter; `preset` lists label-value combinations to show from the start.
    public init(_ name: String, help: String, labelNames: [String], preset: [[String]] = []) {
        precondition(name.hasSuffix("_total"), "counter names end in _total")
        self.name = name
        self.help = help
        self.labelNames = labelNames
        for labels in preset where labels.count == labelNames.count { values[labels] = 0 }
    }

    /// Adds `amount` (not negative) to the series with these label values.
    public func increment(_ labelValues: [String], by amount: Double = 1) {
        precondition(labelValues.count == labelNames.count, "\(name): expected labels \(labelNames)")
        guard amount >= 0 else { return }
        lock.withLock { values[labelValues, default: 0] += amount }
    }

    /// The current value of one series (0 when never counted).
    public func value(_ labelValues: [String]) -> Double { lock.withLock { values[labelValues] ?? 0 } }

    /// The family, series sorted by label values.
    public func family() -> MetricFamily {
        let snapshot = lock.withLock { values }
        return MetricFamily(
            name: name, help: help, type: .counter,
            samples: snapshot.keys.sorted { $0.lexicographicallyPrecedes($1) }.map { key in
                MetricSample(name: name, labels: zip(labelNames, key).map { MetricLabel($0, $1) }, value: snapshot[key]!)
            })
    }
}

/// A histogram with labels, kept by this process. Thread-safe; `preset` series are shown
/// (all zero) before the first observation.
public final class LabeledHistogram: @unchecked Sendable {
    /// The family name (samples are `<name>_bucket`, `<name>_sum`, `<name>_count`).
    public let name: String
    /// The `# HELP` text.
    public let help: String
    /// The label names, in order (never `le`).
    public let labelNames: [String]
    /// The finite upper bounds, ascending; `+Inf` is implicit.
    public let bounds: [Double]
    private let lock = NSLock()
    private var series: [[String]: Series] = [:]

    private struct Series {
        var counts: [UInt64]
        var sum: Double = 0
        init(buckets: Int) { counts = Array(repeating: 0, count: buckets + 1) }
    }

    /// A histogram over `bounds` (ascending, finite).
    public init(_ name: String, help: String, labelNames: [String], bounds: [Double], preset: [[String]] = []) {
        precondition(HistogramBuckets.areValid(bounds), "\(name): bounds must be finite and ascending")
        precondition(!labelNames.contains("le"), "\(name): 'le' is reserved")
        self.name = name
        self.help = help
        self.labelNames = labelNames
        self.bounds = bounds
        for labels in preset where labels.count == labelNames.count { series[labels] = Series(buckets: bounds.count) }
    }

    /// Records one observation in the series with these label values.
    public func observe(_ value: Double, _ labelValues: [String]) {
        precondition(labelValues.count == labelNames.count, "\(name): expected labels \(labelNames)")
        let index = HistogramBuckets.index(of: value, in: bounds)
        lock.withLock {
            var s = series[labelValues] ?? Series(buckets: bounds.count)
            s.counts[index] += 1
            if value.isFinite { s.sum += value }
            series[labelValues] = s
        }
    }

    /// Observations recorded in one series.
    public func count(_ labelValues: [String]) -> UInt64 {
        lock.withLock { series[labelValues]?.counts.reduce(0, +) ?? 0 }
    }

    /// The family: per series (sorted by label values) its cumulative buckets, `_sum` and `_count`.
    public func family() -> MetricFamily {
        let snapshot = lock.withLock { series }
        var samples: [MetricSample] = []
        for key in snapshot.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            let s = snapshot[key]!
            let labels = zip(labelNames, key).map { MetricLabel($0, $1) }
            let cumulative = HistogramBuckets.cumulative(s.counts)
            for (i, total) in cumulative.enumerated() {
                let le = i < bounds.count ? HistogramBuckets.label(bounds[i]) : "+Inf"
                samples.append(MetricSample(name: name + "_bucket", labels: labels + [MetricLabel("le", le)], value: Double(total)))
            }
            samples.append(MetricSample(name: name + "_sum", labels: labels, value: s.sum))
            samples.append(MetricSample(name: name + "_count", labels: labels, value: Double(cumulative.last ?? 0)))
        }
        return MetricFamily(name: name, help: help, type: .histogram, samples: samples)
    }
}
