import Foundation
import PhotonCore

/// Reads the ways a user pins a host key: a `SHA256:` fingerprint, a public key line
/// (`ssh-ed25519 AAAA… comment`), or an OpenSSH known_hosts line (`host ssh-ed25519 AAAA…`).
public enum HostKeyParsing {
    public struct Problem: Error {
        public var message: String
        public var help: String?
    }

    /// Algorithms libssh2 1.10 can verify. It has no rsa-sha2, so RSA host keys cannot be used.
    public static let supportedAlgorithms = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"]

    public static func parse(_ text: String) -> Result<HostKey, Problem> {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("SHA256:") {
            let encoded = trimmed.dropFirst("SHA256:".count)
            // 32 bytes in unpadded base64 are 43 characters.
            guard encoded.count == 43, Data(base64Encoded: encoded + "=") != nil else {
                return .failure(
                    Problem(message: "'\(trimmed)' is not a SHA-256 fingerprint", help: "'ssh-keygen -lf KEY.pub' prints one: SHA256: and 43 characters"))
            }
            return .success(HostKey(algorithm: nil, fingerprint: trimmed))
        }
        let fields = trimmed.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        // A known_hosts line has the host pattern first; a public key line starts with the algorithm.
        guard let algorithmIndex = fields.firstIndex(where: { $0.hasPrefix("ssh-") || $0.hasPrefix("ecdsa-") }), algorithmIndex <= 1,
            algorithmIndex + 1 < fields.count
        else {
            return .failure(
                Problem(
                    message: "host key must be a 'SHA256:…' fingerprint, a public key ('ssh-ed25519 AAAA…') or a known_hosts line",
                    help: "'ssh-keyscan -t ed25519 HOST' prints a known_hosts line"))
        }
        let algorithm = fields[algorithmIndex]
        if algorithm == "ssh-dss" {
            return .failure(
                Problem(
                    message: "host key algorithm ssh-dss (DSA) is obsolete and refused",
                    help: "pin the machine's ed25519 key instead: ssh-keyscan -t ed25519 HOST"))
        }
        if algorithm == "ssh-rsa" {
            return .failure(
                Problem(
                    message: "host key algorithm \(algorithm) cannot be verified by photon's SSH library (libssh2 1.10 lacks rsa-sha2)",
                    help: "pin the machine's ed25519 key instead: ssh-keyscan -t ed25519 HOST"))
        }
        guard supportedAlgorithms.contains(algorithm) else {
            return .failure(
                Problem(message: "unsupported host key algorithm '\(algorithm)'", help: "use one of: \(supportedAlgorithms.joined(separator: ", "))"))
        }
        guard let blob = Data(base64Encoded: fields[algorithmIndex + 1]), let embedded = embeddedAlgorithm(blob), embedded == algorithm else {
            return .failure(
                Problem(
                    message: "the \(algorithm) key data is not valid base64 of an \(algorithm) key",
                    help: "copy the line again from 'ssh-keyscan -t ed25519 HOST'"))
        }
        let digest = ContentDigest.sha256Bytes(Array(blob))
        let fingerprint = "SHA256:" + Data(digest).base64EncodedString().trimmingCharacters(in: CharacterSet(charactersIn: "="))
        return .success(HostKey(algorithm: algorithm, fingerprint: fingerprint))
    }

    /// The algorithm name an SSH public key blob starts with (a length-prefixed string).
    static func embeddedAlgorithm(_ blob: Data) -> String? {
        let bytes = Array(blob)
        guard bytes.count > 4 else { return nil }
        let length = Int(bytes[0]) << 24 | Int(bytes[1]) << 16 | Int(bytes[2]) << 8 | Int(bytes[3])
        guard length > 0, length < 64, bytes.count >= 4 + length else { return nil }
        return String(bytes: bytes[4..<(4 + length)], encoding: .ascii)
    }
}
