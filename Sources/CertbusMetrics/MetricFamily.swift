/// The kind of a metric family, as the `# TYPE` line names it.
public enum MetricType: String, Sendable, Equatable, CaseIterable {
    /// A value that only goes up (and resets to zero when the process restarts); its name ends in `_total`.
    case counter
    /// A value that goes up and down: a count of rows now, seconds until something, bytes in use.
    case gauge
    /// Observations counted into cumulative buckets (`_bucket{le=...}`), with `_sum` and `_count`.
    case histogram
}

/// One label of a sample: `name="value"`.
public struct MetricLabel: Sendable, Equatable, Hashable {
    /// The label name, e.g. `kind` (`[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`).
    public var name: String
    /// The label value, any text (escaped when rendered).
    public var value: String

    /// Makes a label.
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// One line of the exposition: a metric name, its labels in order, and a value.
public struct MetricSample: Sendable, Equatable {
    /// The sample's full name: the family name, or for histograms the family name plus `_bucket`, `_sum` or `_count`.
    public var name: String
    /// The labels, rendered in this order.
    public var labels: [MetricLabel]
    /// The value (`+Inf`, `-Inf` and `NaN` are rendered as Prometheus spells them).
    public var value: Double

    /// Makes a sample.
    public init(name: String, labels: [MetricLabel] = [], value: Double) {
        self.name = name
        self.labels = labels
        self.value = value
    }
}

/// A metric family: the `# HELP` and `# TYPE` lines and the samples under them.
public struct MetricFamily: Sendable, Equatable {
    /// The family name, e.g. `certbus_certificates` (counters include their `_total`).
    public var name: String
    /// What the metric measures, in one line (the `# HELP` text).
    public var help: String
    /// Counter, gauge or histogram.
    public var type: MetricType
    /// The samples, rendered in this order.
    public var samples: [MetricSample]

    /// Makes a family.
    public init(name: String, help: String, type: MetricType, samples: [MetricSample] = []) {
        self.name = name
        self.help = help
        self.type = type
        self.samples = samples
    }

    /// A gauge family whose samples are all named `name`.
    public static func gauge(_ name: String, help: String, _ values: [([MetricLabel], Double)]) -> MetricFamily {
        MetricFamily(name: name, help: help, type: .gauge, samples: values.map { MetricSample(name: name, labels: $0.0, value: $0.1) })
    }

    /// A counter family whose samples are all named `name` (which should end in `_total`).
    public static func counter(_ name: String, help: String, _ values: [([MetricLabel], Double)]) -> MetricFamily {
        MetricFamily(name: name, help: help, type: .counter, samples: values.map { MetricSample(name: name, labels: $0.0, value: $0.1) })
    }

    /// What is wrong with this family for the text format (a bad metric or label name, a sample
    /// named for another family, a reserved label), or nil when it renders correctly.
    public var problem: String? {
        guard MetricNames.isValidMetricName(name) else { return "invalid metric name '\(name)'" }
        if type == .counter, !name.hasSuffix("_total") { return "counter '\(name)' does not end in _total" }
        let allowed: Set<String> = type == .histogram ? [name + "_bucket", name + "_sum", name + "_count"] : [name]
        for sample in samples {
            guard allowed.contains(sample.name) else { return "sample '\(sample.name)' does not belong to family '\(name)'" }
            var seen = Set<String>()
            for label in sample.labels {
                guard MetricNames.isValidLabelName(label.name) else { return "invalid label name '\(label.name)' on '\(sample.name)'" }
                guard seen.insert(label.name).inserted else { return "label '\(label.name)' given twice on '\(sample.name)'" }
                if label.name == "le", sample.name != name + "_bucket" { return "label 'le' is reserved for histogram buckets ('\(sample.name)')" }
            }
        }
        return nil
    }
}

/// The naming rules of the Prometheus data model.
public enum MetricNames {
    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    public static func isValidMetricName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, isLetter(first) || first == "_" || first == ":" else { return false }
        return name.unicodeScalars.allSatisfy { isLetter($0) || isDigit($0) || $0 == "_" || $0 == ":" }
    }

    /// `[a-zA-Z_][a-zA-Z0-9_]*`, and not starting with `__` (reserved for Prometheus itself).
    public static func isValidLabelName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, isLetter(first) || first == "_", !name.hasPrefix("__") else { return false }
        return name.unicodeScalars.allSatisfy { isLetter($0) || isDigit($0) || $0 == "_" }
    }

    private static func isLetter(_ s: Unicode.Scalar) -> Bool { ("a"..."z").contains(s) || ("A"..."Z").contains(s) }
    private static func isDigit(_ s: Unicode.Scalar) -> Bool { ("0"..."9").contains(s) }
}
