/// Bucket arithmetic of Prometheus histograms, as plain functions.
///
/// A histogram with upper bounds b₀ < b₁ < … counts each observation v in the first bucket
/// whose bound is ≥ v (so `le` means "less than or equal"), or in the implicit `+Inf` bucket
/// past the last bound; the exposition shows cumulative counts.
public enum HistogramBuckets {
    /// Job-sized durations in seconds: 5 ms to 5 minutes.
    public static let jobDurationSeconds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]

    /// The index of the bucket `value` falls in: the first `i` with `value <= bounds[i]`, or
    /// `bounds.count` (the `+Inf` bucket). NaN falls in `+Inf`. `bounds` must be ascending.
    public static func index(of value: Double, in bounds: [Double]) -> Int {
        var low = 0
        var high = bounds.count
        while low < high {
            let middle = (low + high) / 2
            if value <= bounds[middle] { high = middle } else { low = middle + 1 }
        }
        return low
    }

    /// Running totals of per-bucket counts: what the `_bucket` samples show.
    public static func cumulative(_ counts: [UInt64]) -> [UInt64] {
        var total: UInt64 = 0
        return counts.map {
            total += $0
            return total
        }
    }

    /// True when `bounds` can be a histogram's bounds: finite, strictly ascending, not empty.
    public static func areValid(_ bounds: [Double]) -> Bool {
        guard !bounds.isEmpty, bounds.allSatisfy(\.isFinite) else { return false }
        return zip(bounds, bounds.dropFirst()).allSatisfy { $0 < $1 }
    }

    /// The text of an `le` label for a bound (`0.005`, `1`, `+Inf`).
    public static func label(_ bound: Double) -> String { Exposition.formatValue(bound) }
}
