import Crypto
import Foundation
import PhotonCore

/// Seals and opens secret values with AES-256-GCM. The key is 32 random bytes in `secrets.key`
/// (mode 0600) next to the database, never inside it, so a copy of `state.sqlite` alone (a backup,
/// a bug report) reveals no secret.
///
/// A sealed value is `0x01 ‖ nonce (12) ‖ ciphertext ‖ tag (16)`, with a fresh random nonce each time.
/// The row it belongs to (`captured:<group>/<name>`, `generated:<key>`) is authenticated as
/// associated data, so a sealed value moved to another row does not open.
final class SecretBox: Sendable {
    static let keyFileName = "secrets.key"
    static let keyByteCount = 32
    private static let formatVersion: UInt8 = 1

    let keyPath: String
    private let directory: String
    private let cached = Locked<SymmetricKey?>(nil)

    init(directory: String) {
        self.directory = directory
        self.keyPath = (directory as NSString).appendingPathComponent(Self.keyFileName)
    }

    /// The key, read from its file; nil when there is no key file.
    func existingKey() throws -> SymmetricKey? {
        try cached.withLock { cached in
            if let cached { return cached }
            guard System.exists(keyPath) else { return nil }
            let key = try Self.readKey(at: keyPath)
            cached = key
            return key
        }
    }

    /// The key, created (atomically, mode 0600) when there is none yet. `holdsSealedValues` says whether
    /// the database already holds values sealed with a key: then a missing key file is an error, never
    /// a reason to make a new key.
    func key(creatingIfMissing holdsSealedValues: () throws -> Bool) throws -> SymmetricKey {
        try cached.withLock { cached in
            if let cached { return cached }
            if System.exists(keyPath) {
                let key = try Self.readKey(at: keyPath)
                cached = key
                return key
            }
            if try holdsSealedValues() { throw missingKeyError() }
            let fresh = SymmetricKey(size: .bits256)
            let bytes = fresh.withUnsafeBytes { Array($0) }
            let temporary = keyPath + ".new-\(System.pid)-\(UUID().uuidString)"
            try System.createFile(temporary, mode: 0o600, bytes: bytes)
            defer { System.remove(temporary) }
            // Another process may have made one meanwhile: then theirs is the key.
            let key: SymmetricKey
            if try System.linkIfAbsent(temporary, to: keyPath) {
                System.syncDirectory(directory)
                key = fresh
            } else {
                key = try Self.readKey(at: keyPath)
            }
            cached = key
            return key
        }
    }

    func missingKeyError() -> PhotonError {
        PhotonError(
            "the key file \(keyPath) is missing, but the state file next to it holds encrypted secrets",
            help: "restore secrets.key from the backup you took together with state.sqlite; photon will not make a new key for existing secrets")
    }

    private static func readKey(at path: String) throws -> SymmetricKey {
        let bytes = try System.readPrefix(path, count: keyByteCount + 1)
        guard bytes.count == keyByteCount else {
            throw PhotonError(
                "the key file \(path) is damaged: it holds \(bytes.count > keyByteCount ? "more than \(keyByteCount)" : String(bytes.count)) bytes instead of \(keyByteCount)",
                help: "restore secrets.key from the backup you took together with state.sqlite")
        }
        return SymmetricKey(data: bytes)
    }

    static func associatedData(_ label: String) -> [UInt8] { Array("photon-state:\(label)".utf8) }

    func seal(_ plaintext: String, label: String, key: SymmetricKey) throws -> [UInt8] {
        let box = try AES.GCM.seal(Array(plaintext.utf8), using: key, authenticating: Self.associatedData(label))
        guard let combined = box.combined else {
            throw PhotonError("could not encrypt the secret \(label)")
        }
        return [Self.formatVersion] + Array(combined)
    }

    func open(_ sealed: [UInt8], label: String, key: SymmetricKey) throws -> String {
        do {
            guard sealed.first == Self.formatVersion else { throw CryptoKitError.incorrectParameterSize }
            let box = try AES.GCM.SealedBox(combined: sealed.dropFirst())
            let plaintext = try AES.GCM.open(box, using: key, authenticating: Self.associatedData(label))
            return String(decoding: plaintext, as: UTF8.self)
        } catch {
            throw PhotonError(
                "cannot decrypt the secret \(label) recorded in the state: \(keyPath) is not the key it was encrypted with, or the value is damaged",
                help: "restore secrets.key and state.sqlite together, from the same backup")
        }
    }
}
