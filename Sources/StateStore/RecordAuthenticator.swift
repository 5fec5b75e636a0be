import Crypto
import Foundation
import PhotonCore

/// Authenticates records that tell the management plane what to run (operations and the blueprint and
/// kinds they run with): an HMAC-SHA256 with a key derived from the deployment's sealing key
/// (`secrets.key`), which only the installer and the plane's servers hold. A record written by anyone
/// else — a workload that reached etcd somehow, a hand edit — does not verify and is ignored.
public struct RecordAuthenticator: Sendable {
    private let key: SymmetricKey

    /// The authenticator of the deployment whose `secrets.key` is in `stateDirectory`.
    public init(stateDirectory: String) throws {
        let box = SecretBox(directory: stateDirectory)
        guard let sealingKey = try box.existingKey() else {
            throw PhotonError(
                "the key file \(box.keyPath) is missing: the plane's records cannot be authenticated without it",
                help: "the installer uploads it with the management kind; 'photon apply --local' repairs the plane")
        }
        self.init(sealingKey: sealingKey)
    }

    init(sealingKey: SymmetricKey) {
        key = HKDF<SHA256>.deriveKey(inputKeyMaterial: sealingKey, info: Array("photon plane records v1".utf8), outputByteCount: 32)
    }

    /// A key of its own (tests).
    public static func random() -> RecordAuthenticator { RecordAuthenticator(sealingKey: SymmetricKey(size: .bits256)) }

    /// The tag of `bytes` stored under `key` (the key is authenticated too: a record moved to another key does not verify).
    public func tag(_ bytes: [UInt8], key name: String) -> String {
        var hmac = HMAC<SHA256>(key: key)
        hmac.update(data: Array(name.utf8) + [0])
        hmac.update(data: bytes)
        return Data(hmac.finalize()).base64EncodedString()
    }

    /// Whether `tag` is the tag of `bytes` under `key` (compared in constant time).
    public func verify(_ bytes: [UInt8], key name: String, tag: String) -> Bool {
        guard let presented = Data(base64Encoded: tag) else { return false }
        var hmac = HMAC<SHA256>(key: key)
        hmac.update(data: Array(name.utf8) + [0])
        hmac.update(data: bytes)
        return hmac.finalize() == presented
    }
}
