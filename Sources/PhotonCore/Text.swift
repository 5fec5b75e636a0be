import Crypto
import Foundation

/// Quoting for POSIX shells. photon builds every remote command from an argument vector and quotes each
/// argument, so that no value from a blueprint or a captured output can change what the command does.
public enum ShellQuoting {
    static let safe: Set<UInt8> = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_".utf8)

    /// `word` unchanged when it has only safe characters, otherwise in single quotes.
    public static func quote(_ word: String) -> String {
        if !word.isEmpty, word.utf8.allSatisfy({ safe.contains($0) }) { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
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
