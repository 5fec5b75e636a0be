import Foundation

/// A size in bytes written the way people write them: "512MiB", "4GiB", "2G", "1024".
public struct ByteSize: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    public var bytes: UInt64

    public init(bytes: UInt64) { self.bytes = bytes }

    static let units: [(suffix: String, factor: UInt64)] = [
        ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40),
        ("K", 1000), ("M", 1_000_000), ("G", 1_000_000_000), ("T", 1_000_000_000_000),
        ("KB", 1000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("TB", 1_000_000_000_000),
    ]

    public init?(_ text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let digits = trimmed.prefix(while: \.isASCIIDigit)
        let suffix = trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces)
        guard !digits.isEmpty, let number = UInt64(digits) else { return nil }
        if suffix.isEmpty || suffix == "B" {
            bytes = number
            return
        }
        guard let factor = ByteSize.units.first(where: { $0.suffix == suffix })?.factor else { return nil }
        let (product, overflow) = number.multipliedReportingOverflow(by: factor)
        guard !overflow else { return nil }
        bytes = product
    }

    /// The largest binary unit that divides the size exactly ("1536MiB", "4GiB").
    public var description: String {
        for (suffix, factor) in [("TiB", UInt64(1) << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
        where bytes >= factor && bytes % factor == 0 {
            return "\(bytes / factor)\(suffix)"
        }
        return "\(bytes)B"
    }

    public static func < (lhs: ByteSize, rhs: ByteSize) -> Bool { lhs.bytes < rhs.bytes }

    public init(from decoder: any Decoder) throws {
        bytes = try decoder.singleValueContainer().decode(UInt64.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(bytes)
    }
}

/// A duration written as "90s", "5m", "1h30m" or "250ms"; plain numbers are seconds.
public struct TimeSpan: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    public var milliseconds: UInt64

    public init(milliseconds: UInt64) { self.milliseconds = milliseconds }
    public init(seconds: UInt64) { self.milliseconds = seconds * 1000 }

    public init?(_ text: String) {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        if !rest.isEmpty, rest.allSatisfy(\.isASCIIDigit), let seconds = UInt64(rest), seconds <= UInt64.max / 1000 {
            milliseconds = seconds * 1000
            return
        }
        var total: UInt64 = 0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix(while: \.isASCIIDigit)
            guard !digits.isEmpty, let number = UInt64(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            let unit = rest.prefix(while: { !$0.isASCIIDigit })
            rest = rest.dropFirst(unit.count)
            let factor: UInt64
            switch unit {
            case "ms": factor = 1
            case "s": factor = 1000
            case "m": factor = 60_000
            case "h": factor = 3_600_000
            default: return nil
            }
            let (part, overflow) = number.multipliedReportingOverflow(by: factor)
            guard !overflow else { return nil }
            total += part
        }
        milliseconds = total
    }

    public var description: String {
        if milliseconds % 1000 != 0 { return "\(milliseconds)ms" }
        var seconds = milliseconds / 1000
        var text = ""
        if seconds >= 3600 {
            text += "\(seconds / 3600)h"
            seconds %= 3600
        }
        if seconds >= 60 {
            text += "\(seconds / 60)m"
            seconds %= 60
        }
        if seconds > 0 || text.isEmpty { text += "\(seconds)s" }
        return text
    }

    public static func < (lhs: TimeSpan, rhs: TimeSpan) -> Bool { lhs.milliseconds < rhs.milliseconds }

    public init(from decoder: any Decoder) throws {
        milliseconds = try decoder.singleValueContainer().decode(UInt64.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(milliseconds)
    }
}

/// How many machines of a role may be changed at once: a count, or a percentage of the role.
public enum InFlightLimit: Hashable, Sendable, CustomStringConvertible {
    case count(Int)
    case percent(Int)

    public init?(_ text: String) {
        if text.hasSuffix("%") {
            guard let value = Int(text.dropLast()), (1...100).contains(value) else { return nil }
            self = .percent(value)
        } else {
            guard let value = Int(text), value >= 1 else { return nil }
            self = .count(value)
        }
    }

    public var description: String {
        switch self {
        case .count(let value): return "\(value)"
        case .percent(let value): return "\(value)%"
        }
    }
}

/// A machine size.
public struct Flavor: Hashable, Sendable {
    public var name: String
    /// Thousandths of a CPU ("0.5" is 500).
    public var milliCPU: Int
    public var memory: ByteSize
    public var disk: ByteSize
    /// Nil for the built-in flavors.
    public var location: SourceLocation?

    public init(name: String, milliCPU: Int, memory: ByteSize, disk: ByteSize, location: SourceLocation? = nil) {
        self.name = name
        self.milliCPU = milliCPU
        self.memory = memory
        self.disk = disk
        self.location = location
    }

    /// "1 cpu, 1GiB memory, 8GiB disk".
    public var summary: String {
        let cpu = milliCPU % 1000 == 0 ? "\(milliCPU / 1000)" : String(format: "%g", Double(milliCPU) / 1000)
        return "\(cpu) cpu, \(memory) memory, \(disk) disk"
    }

    /// Sizes every blueprint can name without defining them.
    public static let builtIn: [String: Flavor] = [
        "small": Flavor(name: "small", milliCPU: 1000, memory: ByteSize(bytes: 1 << 30), disk: ByteSize(bytes: 8 << 30)),
        "medium": Flavor(name: "medium", milliCPU: 2000, memory: ByteSize(bytes: 4 << 30), disk: ByteSize(bytes: 20 << 30)),
        "large": Flavor(name: "large", milliCPU: 4000, memory: ByteSize(bytes: 8 << 30), disk: ByteSize(bytes: 40 << 30)),
    ]
}
