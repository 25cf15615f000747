import CertbusMetrics
import Testing

@Suite("Prometheus text format")
struct ExpositionTests {
    @Test func rendersHelpTypeAndSamplesInTheOrderGiven() {
        let text = Exposition.render([
            .gauge("certbus_b", help: "Second.", [([MetricLabel("status", "VALID")], 3), ([MetricLabel("status", "EXPIRED")], 0)]),
            .counter("certbus_a_total", help: "First.", [([], 7)]),
        ])
        #expect(text == """
            # HELP certbus_b Second.
            # TYPE certbus_b gauge
            certbus_b{status="VALID"} 3
            certbus_b{status="EXPIRED"} 0
            # HELP certbus_a_total First.
            # TYPE certbus_a_total counter
            certbus_a_total 7

            """)
    }

    @Test func escapesLabelValuesAndHelpTexts() {
        #expect(Exposition.escapeLabelValue(#"a\b"c"# + "\nd") == #"a\\b\"c\nd"#)
        #expect(Exposition.escapeLabelValue("plain ünïcode") == "plain ünïcode")
        #expect(Exposition.escapeHelp(#"say "hi" \ bye"# + "\nnext") == #"say "hi" \\ bye\nnext"#)
        let text = Exposition.render([.gauge("certbus_x", help: "h", [([MetricLabel("profile", "we\"ird\\\n")], 1)])])
        #expect(text.contains(#"certbus_x{profile="we\"ird\\\n"} 1"#))
        // Every sample stays on one line whatever the label value holds.
        #expect(text.split(separator: "\n").count == 3)
    }

    @Test func formatsValuesAsPrometheusParsesThem() {
        #expect(Exposition.formatValue(0) == "0")
        #expect(Exposition.formatValue(-0.0) == "0")
        #expect(Exposition.formatValue(42) == "42")
        #expect(Exposition.formatValue(-3) == "-3")
        #expect(Exposition.formatValue(0.25) == "0.25")
        #expect(Exposition.formatValue(1e-05) == "1e-05")
        #expect(Exposition.formatValue(1e20) == "1e+20")
        #expect(Exposition.formatValue(.infinity) == "+Inf")
        #expect(Exposition.formatValue(-.infinity) == "-Inf")
        #expect(Exposition.formatValue(.nan) == "NaN")
        for value in [0.1, 123.456, 1e-9, 2.5e17] { #expect(Double(Exposition.formatValue(value)) == value) }
    }

    @Test func leavesOutFamiliesThatTheFormatCannotCarry() {
        let good = MetricFamily.gauge("certbus_ok", help: "ok", [([], 1)])
        let families = [
            MetricFamily.gauge("1bad", help: "starts with a digit", [([], 1)]),
            MetricFamily.gauge("certbus_label", help: "bad label", [([MetricLabel("__reserved", "x")], 1)]),
            MetricFamily.gauge("certbus_twice", help: "label twice", [([MetricLabel("a", "1"), MetricLabel("a", "2")], 1)]),
            MetricFamily.counter("certbus_counter", help: "no _total", [([], 1)]),
            MetricFamily(name: "certbus_other", help: "x", type: .gauge, samples: [MetricSample(name: "certbus_else", value: 1)]),
            MetricFamily.gauge("certbus_le", help: "le outside buckets", [([MetricLabel("le", "1")], 1)]),
            good,
        ]
        #expect(families.dropLast().allSatisfy { $0.problem != nil })
        #expect(good.problem == nil)
        #expect(Exposition.render(families) == Exposition.render([good]))
    }

    @Test func validatesNamesByTheDataModel() {
        for name in ["a", "_x", "certbus:rate5m", "process_cpu_seconds_total", "A9_"] { #expect(MetricNames.isValidMetricName(name)) }
        for name in ["", "9a", "a-b", "a b", "é"] { #expect(!MetricNames.isValidMetricName(name)) }
        for name in ["kind", "_private", "le", "a1"] { #expect(MetricNames.isValidLabelName(name)) }
        for name in ["", "__name__", "a:b", "1a", "a-b"] { #expect(!MetricNames.isValidLabelName(name)) }
    }
}
