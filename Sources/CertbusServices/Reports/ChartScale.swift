import Foundation

/// The value axis of a chart: from zero to a round maximum, with evenly spaced round ticks
/// (steps of 1, 2 or 5 times a power of ten), so gridlines fall on numbers people read at a glance.
struct ChartScale: Equatable {
    /// The top of the axis (at least the largest value).
    let maximum: Double
    /// The tick values from 0 to `maximum`, ascending.
    let ticks: [Double]

    /// A scale for values up to `largest`, with about `targetTicks` intervals. With `integral`
    /// (counts), the step is never below 1. A largest value of zero or less (nothing to show)
    /// gives the axis 0…1.
    init(largest: Double, targetTicks: Int = 5, integral: Bool) {
        guard largest > 0, largest.isFinite else {
            maximum = 1
            ticks = [0, 1]
            return
        }
        let raw = largest / Double(max(1, targetTicks))
        let magnitude = pow(10, floor(log10(raw)))
        let normalized = raw / magnitude
        var step = (normalized <= 1 ? 1 : normalized <= 2 ? 2 : normalized <= 5 ? 5 : 10) * magnitude
        if integral { step = max(1, step.rounded()) }
        let count = Int((largest / step).rounded(.up))
        maximum = Double(count) * step
        ticks = (0...count).map { Double($0) * step }
    }

    /// The y coordinate of `value` on a plot whose top is at `top` and whose height is `height`
    /// (SVG y grows downwards; values outside the axis are clamped).
    func y(_ value: Double, top: Double, height: Double) -> Double {
        let fraction = min(1, max(0, value / maximum))
        return top + height * (1 - fraction)
    }

    /// A tick label: `0`, `250`, `1.5`, `12k`, `3.5M`.
    static func label(_ value: Double) -> String {
        let magnitude = abs(value)
        if magnitude >= 1_000_000 { return SVGNumber.text(value / 1_000_000, decimals: 1) + "M" }
        if magnitude >= 10_000 { return SVGNumber.text(value / 1_000, decimals: 1) + "k" }
        return SVGNumber.text(value, decimals: 2)
    }
}

/// Numbers written into SVG and labels: rounded, without trailing zeros, always with a `.`
/// as decimal separator whatever the locale.
enum SVGNumber {
    /// `value` rounded to `decimals` places: `12`, `12.5`, `0.25`.
    static func text(_ value: Double, decimals: Int = 1) -> String {
        let scale = pow(10, Double(decimals))
        let rounded = (value * scale).rounded() / scale
        if rounded == rounded.rounded(.towardZero), abs(rounded) < 1e15 { return String(Int(rounded)) }
        var text = String(format: "%.\(decimals)f", rounded)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}
