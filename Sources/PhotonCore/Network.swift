/// An IPv4 address as a 32-bit number, so ranges and allocation are arithmetic.
public struct IPv4Address: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    /// Parses dotted-quad notation ("10.213.0.1"); nil for anything else.
    public init?(_ text: some StringProtocol) {
        var result: UInt32 = 0
        var octets = 0
        for part in text.split(separator: ".", omittingEmptySubsequences: false) {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCIIDigit), let octet = UInt32(part), octet <= 255 else { return nil }
            // "010" is octal to some tools and decimal to others: refuse the ambiguity.
            if part.count > 1, part.first == "0" { return nil }
            result = result << 8 | octet
            octets += 1
        }
        guard octets == 4 else { return nil }
        value = result
    }

    public var description: String {
        "\(value >> 24).\(value >> 16 & 0xff).\(value >> 8 & 0xff).\(value & 0xff)"
    }

    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.value < rhs.value }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let address = IPv4Address(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an IPv4 address: \(text)"))
        }
        self = address
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// An IPv4 network in CIDR notation ("10.213.0.0/24").
public struct IPv4Network: Hashable, Sendable, CustomStringConvertible {
    public var base: IPv4Address
    public var prefixLength: Int

    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPv4Address(parts[0]),
            parts[1].allSatisfy(\.isASCIIDigit), let length = Int(parts[1]), (0...32).contains(length)
        else { return nil }
        base = address
        prefixLength = length
    }

    public init(base: IPv4Address, prefixLength: Int) {
        self.base = base
        self.prefixLength = prefixLength
    }

    public var mask: UInt32 { prefixLength == 0 ? 0 : UInt32.max << (32 - UInt32(prefixLength)) }

    /// True when the address has bits set below the prefix ("10.0.0.5/24").
    public var hasHostBits: Bool { base.value & ~mask != 0 }

    public var network: IPv4Address { IPv4Address(base.value & mask) }

    /// Number of addresses in the range, network and broadcast included.
    public var size: UInt64 { UInt64(1) << UInt64(32 - prefixLength) }

    /// Addresses a machine can use: all but the network and broadcast addresses (both usable in a /31 and /32).
    public var usableHosts: ClosedRange<UInt32>? {
        let first = network.value
        let last = first | ~mask
        if prefixLength >= 31 { return first...last }
        return (first + 1)...(last - 1)
    }

    public func overlaps(_ other: IPv4Network) -> Bool {
        let shorter = min(prefixLength, other.prefixLength)
        let commonMask: UInt32 = shorter == 0 ? 0 : UInt32.max << (32 - UInt32(shorter))
        return base.value & commonMask == other.base.value & commonMask
    }

    public var description: String { "\(base)/\(prefixLength)" }
}

/// RFC 1123 host names, which machine names and every part that builds them must be.
public enum Hostname {
    /// Why `label` cannot be one DNS label (letters, digits and hyphens, 1–63 characters, no hyphen at either end), or nil when it can.
    public static func problem(withLabel label: String) -> String? {
        if label.isEmpty { return "it is empty" }
        if label.utf8.count > 63 { return "it is \(label.utf8.count) characters long; a host name label has at most 63" }
        if let bad = label.unicodeScalars.first(where: { !(($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || $0 == "-") }) {
            return "'\(bad.escaped(asASCII: true))' is not allowed; use lowercase letters, digits and '-'"
        }
        if label.hasPrefix("-") || label.hasSuffix("-") { return "it starts or ends with '-'" }
        if label != label.lowercased() { return "it has uppercase letters; names are lowercase so that host names, DNS and cluster software agree" }
        return nil
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
