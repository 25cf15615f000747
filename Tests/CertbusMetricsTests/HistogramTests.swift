import CertbusMetrics
import Foundation
import Testing

@Suite("Histograms and counters")
struct HistogramTests {
    @Test func assignsEachObservationToTheFirstBucketAtOrAboveIt() {
        let bounds: [Double] = [0.1, 1, 10]
        #expect(HistogramBuckets.index(of: 0, in: bounds) == 0)
        #expect(HistogramBuckets.index(of: 0.1, in: bounds) == 0)  // le means "less than or equal"
        #expect(HistogramBuckets.index(of: 0.1000001, in: bounds) == 1)
        #expect(HistogramBuckets.index(of: 1, in: bounds) == 1)
        #expect(HistogramBuckets.index(of: 9.99, in: bounds) == 2)
        #expect(HistogramBuckets.index(of: 10, in: bounds) == 2)
        #expect(HistogramBuckets.index(of: 10.5, in: bounds) == 3)  // +Inf
        #expect(HistogramBuckets.index(of: .infinity, in: bounds) == 3)
        #expect(HistogramBuckets.index(of: .nan, in: bounds) == 3)
        #expect(HistogramBuckets.index(of: -5, in: bounds) == 0)
        #expect(HistogramBuckets.cumulative([1, 0, 2, 3]) == [1, 1, 3, 6])
        #expect(HistogramBuckets.areValid(HistogramBuckets.jobDurationSeconds))
        #expect(!HistogramBuckets.areValid([1, 1]))
        #expect(!HistogramBuckets.areValid([2, 1]))
        #expect(!HistogramBuckets.areValid([]))
        #expect(!HistogramBuckets.areValid([1, .infinity]))
    }

    @Test func rendersCumulativeBucketsSumAndCountPerSeries() {
        let histogram = LabeledHistogram("certbus_d_seconds", help: "d", labelNames: ["kind"], bounds: [0.5, 2], preset: [["B"]])
        histogram.observe(0.2, ["A"])
        histogram.observe(0.5, ["A"])
        histogram.observe(1.5, ["A"])
        histogram.observe(7, ["A"])
        let family = histogram.family()
        #expect(family.problem == nil)
        #expect(Exposition.render([family]) == """
            # HELP certbus_d_seconds d
            # TYPE certbus_d_seconds histogram
            certbus_d_seconds_bucket{kind="A",le="0.5"} 2
            certbus_d_seconds_bucket{kind="A",le="2"} 3
            certbus_d_seconds_bucket{kind="A",le="+Inf"} 4
            certbus_d_seconds_sum{kind="A"} 9.2
            certbus_d_seconds_count{kind="A"} 4
            certbus_d_seconds_bucket{kind="B",le="0.5"} 0
            certbus_d_seconds_bucket{kind="B",le="2"} 0
            certbus_d_seconds_bucket{kind="B",le="+Inf"} 0
            certbus_d_seconds_sum{kind="B"} 0
            certbus_d_seconds_count{kind="B"} 0

            """)
        #expect(histogram.count(["A"]) == 4)
    }

    @Test func countersStartAtZeroForPresetSeriesAndNeverGoDown() {
        let counter = LabeledCounter("certbus_f_total", help: "f", labelNames: ["kind", "class"], preset: [["X", "permanent"]])
        counter.increment(["X", "retryable"])
        counter.increment(["X", "retryable"], by: 2)
        counter.increment(["X", "retryable"], by: -5)  // ignored: counters only go up
        #expect(counter.value(["X", "retryable"]) == 3)
        #expect(Exposition.render([counter.family()]) == """
            # HELP certbus_f_total f
            # TYPE certbus_f_total counter
            certbus_f_total{kind="X",class="permanent"} 0
            certbus_f_total{kind="X",class="retryable"} 3

            """)
    }

    @Test func observationsFromManyThreadsAreAllCounted() async {
        let histogram = LabeledHistogram("certbus_t_seconds", help: "t", labelNames: ["kind"], bounds: [1])
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask { for i in 0..<1000 { histogram.observe(Double(i % 3), ["K"]) } }
            }
        }
        #expect(histogram.count(["K"]) == 8000)
    }
}
