import Crypto
import Foundation

/// photon's own client key for a deployment: ed25519, made by photon, kept with the deployment's state.
public struct DeploymentKey: Sendable {
    /// The private key in OpenSSH format (as `ssh-keygen -t ed25519` writes it, without a passphrase).
    public var privateKey: String
    /// The `authorized_keys` line.
    public var publicKey: String

    public init(privateKey: String, publicKey: String) {
        self.privateKey = privateKey
        self.publicKey = publicKey
    }

    /// A new key.
    public static func generate(comment: String) -> DeploymentKey {
        make(Curve25519.Signing.PrivateKey(), comment: comment)
    }

    static func make(_ key: Curve25519.Signing.PrivateKey, comment: String) -> DeploymentKey {
        let publicBytes = Array(key.publicKey.rawRepresentation)
        let publicBlob = string("ssh-ed25519") + string(publicBytes)
        let check = UInt32.random(in: 0...UInt32.max)
        var secret = uint32(check) + uint32(check)
        secret += string("ssh-ed25519") + string(publicBytes)
        secret += string(Array(key.rawRepresentation) + publicBytes)
        secret += string(Array(comment.utf8))
        var padding: UInt8 = 1
        while secret.count % 8 != 0 {
            secret.append(padding)
            padding += 1
        }
        let body = Array("openssh-key-v1\0".utf8) + string("none") + string("none") + string([]) + uint32(1) + string(publicBlob) + string(secret)
        let encoded = Data(body).base64EncodedString()
        var lines = ["-----BEGIN OPENSSH PRIVATE KEY-----"]
        var index = encoded.startIndex
        while index < encoded.endIndex {
            let end = encoded.index(index, offsetBy: 70, limitedBy: encoded.endIndex) ?? encoded.endIndex
            lines.append(String(encoded[index..<end]))
            index = end
        }
        lines.append("-----END OPENSSH PRIVATE KEY-----")
        return DeploymentKey(
            privateKey: lines.joined(separator: "\n") + "\n",
            publicKey: "ssh-ed25519 \(Data(publicBlob).base64EncodedString()) \(comment)")
    }

    static func uint32(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }

    static func string(_ bytes: [UInt8]) -> [UInt8] { uint32(UInt32(bytes.count)) + bytes }
    static func string(_ text: String) -> [UInt8] { string(Array(text.utf8)) }
}

/// Reading OpenSSH public keys without a server: fingerprints of keys photon wrote itself, and the
/// public half of a private key file (which the OpenSSH format keeps in clear, even when encrypted).
public enum SSHPublicKey {
    /// "SHA256:…" (as `ssh-keygen -l` prints it) of a public key line `ssh-ed25519 AAAA… comment`.
    public static func fingerprint(ofPublicKeyLine line: String) -> String? {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 2, let blob = Data(base64Encoded: String(fields[1])) else { return nil }
        let digest = Data(SHA256.hash(data: blob))
        return "SHA256:" + digest.base64EncodedString().trimmingCharacters(in: CharacterSet(charactersIn: "="))
    }

    /// The public key line of an OpenSSH-format private key ("-----BEGIN OPENSSH PRIVATE KEY-----"), or nil
    /// for other formats.
    public static func publicKeyLine(ofPrivateKey text: String) -> String? {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let begin = lines.firstIndex(of: "-----BEGIN OPENSSH PRIVATE KEY-----"),
            let end = lines.firstIndex(of: "-----END OPENSSH PRIVATE KEY-----"), begin < end,
            let decoded = Data(base64Encoded: lines[(begin + 1)..<end].joined())
        else { return nil }
        var reader = Array(decoded)[...]
        let magic = Array("openssh-key-v1\0".utf8)
        guard reader.starts(with: magic) else { return nil }
        reader = reader.dropFirst(magic.count)
        func field() -> ArraySlice<UInt8>? {
            guard reader.count >= 4 else { return nil }
            let length = reader.prefix(4).reduce(0) { $0 << 8 | Int($1) }
            reader = reader.dropFirst(4)
            guard reader.count >= length else { return nil }
            defer { reader = reader.dropFirst(length) }
            return reader.prefix(length)
        }
        guard field() != nil, field() != nil, field() != nil, reader.count >= 4 else { return nil }  // cipher, kdf, kdf options
        reader = reader.dropFirst(4)  // number of keys
        guard let blob = field() else { return nil }
        var blobReader = blob
        guard blobReader.count >= 4 else { return nil }
        let typeLength = blobReader.prefix(4).reduce(0) { $0 << 8 | Int($1) }
        blobReader = blobReader.dropFirst(4)
        guard blobReader.count >= typeLength else { return nil }
        let type = String(decoding: blobReader.prefix(typeLength), as: UTF8.self)
        return "\(type) \(Data(blob).base64EncodedString())"
    }
}
