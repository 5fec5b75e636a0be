internal import CLibSSH2
import Foundation

/// Public-key authentication from a key's text, a key file or the ssh-agent. RSA keys are refused up
/// front: libssh2 1.10 signs only with ssh-rsa (SHA-1), which OpenSSH 8.8 and later reject.
struct Authenticator {
    let session: Session
    let user: String

    static let rsaAdvice = "libssh2 1.10 cannot sign with rsa-sha2, so OpenSSH servers refuse RSA keys; use an ed25519 or ECDSA key (ssh-keygen -t ed25519)"

    func authenticate(_ credentials: SSHCredentials) throws {
        switch credentials {
        case .privateKey(let text, let passphrase):
            try fromMemory(text, passphrase: passphrase, origin: "the key")
        case .privateKeyFile(let path, let passphrase):
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                throw SSHError(.key, "cannot read the private key file \(path)")
            }
            try fromMemory(text, passphrase: passphrase, origin: path)
        case .agent:
            try fromAgent()
        }
    }

    func fromMemory(_ text: String, passphrase: String?, origin: String) throws {
        if let type = Self.keyType(text), type == "ssh-rsa" {
            throw SSHError(.key, "\(origin) is an RSA key: \(Self.rsaAdvice)")
        }
        do {
            try session.call(.authentication, "authenticating as \(user)") {
                text.withCString { key in
                    libssh2_userauth_publickey_frommemory(session.handle, user, user.utf8.count, nil, 0, key, text.utf8.count, passphrase)
                }
            }
        } catch let error as SSHError {
            switch error.code {
            case LIBSSH2_ERROR_FILE?, LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED?, LIBSSH2_ERROR_METHOD_NOT_SUPPORTED?, LIBSSH2_ERROR_KEYFILE_AUTH_FAILED?:
                throw SSHError(.key, "\(origin) cannot be read: wrong passphrase, or not an OpenSSH or PEM private key (\(error.message))", code: error.code)
            case LIBSSH2_ERROR_AUTHENTICATION_FAILED?, LIBSSH2_ERROR_PUBLICKEY_UNRECOGNIZED?:
                throw SSHError(
                    .authentication, "\(session.host) refused the key for user \(user): its public key is not in the user's authorized_keys", code: error.code)
            default:
                throw error
            }
        }
    }

    func fromAgent() throws {
        guard let agent = libssh2_agent_init(session.handle) else { throw SSHError(.authentication, "cannot start an ssh-agent client") }
        defer {
            libssh2_agent_disconnect(agent)
            libssh2_agent_free(agent)
        }
        guard libssh2_agent_connect(agent) == 0 else {
            throw SSHError(.authentication, "no ssh-agent to ask: $SSH_AUTH_SOCK is unset or the agent is not running")
        }
        guard libssh2_agent_list_identities(agent) == 0 else { throw SSHError(.authentication, "the ssh-agent did not list its keys") }
        var previous: UnsafeMutablePointer<libssh2_agent_publickey>?
        var identity: UnsafeMutablePointer<libssh2_agent_publickey>?
        var sawRSA = false
        while libssh2_agent_get_identity(agent, &identity, previous) == 0, let current = identity {
            previous = current
            let blob = Data(bytes: current.pointee.blob, count: Int(current.pointee.blob_len))
            if Self.blobType(Array(blob)) == "ssh-rsa" {
                sawRSA = true
                continue
            }
            var code: Int32
            repeat {
                code = libssh2_agent_userauth(agent, user, current)
                if code == LIBSSH2_ERROR_EAGAIN { try session.waitSocket("authenticating with the agent") }
            } while code == LIBSSH2_ERROR_EAGAIN
            if code == 0 { return }
        }
        throw SSHError(
            .authentication,
            sawRSA
                ? "the ssh-agent holds only RSA keys the server refuses: \(Self.rsaAdvice)"
                : "\(session.host) refused every key the ssh-agent offered for user \(user)")
    }

    /// The key type of an OpenSSH or PEM private key, read from its unencrypted public part.
    static func keyType(_ text: String) -> String? {
        if text.contains("BEGIN RSA PRIVATE KEY") { return "ssh-rsa" }
        if text.contains("BEGIN EC PRIVATE KEY") { return "ecdsa" }
        guard text.contains("BEGIN OPENSSH PRIVATE KEY") else { return nil }
        let body = text.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        guard let data = Data(base64Encoded: body) else { return nil }
        var bytes = Array(data)
        let magic = Array("openssh-key-v1\0".utf8)
        guard bytes.starts(with: magic) else { return nil }
        bytes.removeFirst(magic.count)
        // ciphername, kdfname, kdfoptions, then the number of keys and the first public key blob.
        for _ in 0..<3 { guard read(&bytes) != nil else { return nil } }
        guard bytes.count >= 4 else { return nil }
        bytes.removeFirst(4)
        guard let publicKey = read(&bytes) else { return nil }
        return blobType(publicKey)
    }

    static func blobType(_ blob: [UInt8]) -> String? {
        var bytes = blob
        return read(&bytes).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Reads one length-prefixed SSH string.
    static func read(_ bytes: inout [UInt8]) -> [UInt8]? {
        guard bytes.count >= 4 else { return nil }
        let length = Int(bytes[0]) << 24 | Int(bytes[1]) << 16 | Int(bytes[2]) << 8 | Int(bytes[3])
        guard bytes.count >= 4 + length else { return nil }
        let value = Array(bytes[4..<(4 + length)])
        bytes.removeFirst(4 + length)
        return value
    }
}
