import Crypto
import Foundation

/// Quoting for POSIX shells. photon builds every remote command from an argument vector and quotes each
/// argument, so that no value from a blueprint or a captured output can change what the command does.
public enum ShellQuoting {
    /// `word` unchanged when it has only safe characters, otherwise in single quotes.
    public static func quote(_ word: String) -> String {
        var needsQuotes = word.isEmpty
        var hasQuote = false
        for byte in word.utf8 {
            if byte == UInt8(ascii: "'") { hasQuote = true }
            if !isSafe(byte) { needsQuotes = true }
        }
        guard needsQuotes else { return word }
        guard hasQuote else { return "'" + word + "'" }
        var out = [UInt8]()
        out.reserveCapacity(word.utf8.count + 8)
        out.append(UInt8(ascii: "'"))
        for byte in word.utf8 {
            if byte == UInt8(ascii: "'") { out.append(contentsOf: Array("'\\''".utf8)) } else { out.append(byte) }
        }
        out.append(UInt8(ascii: "'"))
        return String(decoding: out, as: UTF8.self)
    }

    @inline(__always)
    static func isSafe(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
        case UInt8(ascii: "@"), UInt8(ascii: "%"), UInt8(ascii: "+"), UInt8(ascii: "="), UInt8(ascii: ":"), UInt8(ascii: ","),
            UInt8(ascii: "."), UInt8(ascii: "/"), UInt8(ascii: "-"), UInt8(ascii: "_"):
            return true
        default: return false
        }
    }

    /// The arguments joined into one command line, each one quoted.
    public static func join(_ arguments: [String]) -> String {
        arguments.map(quote).joined(separator: " ")
    }
}

/// SHA-256 content digests as photon prints and records them: lowercase hex.
public enum ContentDigest {
    public static func sha256(_ bytes: some Sequence<UInt8>) -> String {
        hex(SHA256.hash(data: Array(bytes)))
    }

    public static func sha256(_ text: String) -> String {
        var text = text
        return text.withUTF8 { hex(SHA256.hash(data: $0)) }
    }

    /// The raw 32 bytes of the SHA-256 digest.
    public static func sha256Bytes(_ bytes: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: bytes))
    }

    static let hexDigits = Array("0123456789abcdef".utf8)

    static func hex(_ digest: SHA256.Digest) -> String {
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in digest {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0xf)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// SHA-256 over data that arrives in pieces (large files).
public struct StreamingDigest {
    private var hasher = SHA256()

    public init() {}

    public mutating func update(_ data: Data) { hasher.update(data: data) }

    public mutating func finalize() -> String { ContentDigest.hex(hasher.finalize()) }
}
