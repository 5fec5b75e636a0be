import Foundation
import NIOSSL
import PhotonCore

/// How a client proves itself to etcd and checks etcd's identity: the plane's certificate authority
/// (the only one trusted), and a client certificate it signed. Members are checked by name: their
/// certificates carry their addresses.
public struct EtcdTLS: Sendable, Hashable {
    public var authorityPEM: String
    public var certificatePEM: String
    public var privateKeyPEM: String

    public init(authorityPEM: String, certificatePEM: String, privateKeyPEM: String) {
        self.authorityPEM = authorityPEM
        self.certificatePEM = certificatePEM
        self.privateKeyPEM = privateKeyPEM
    }

    /// Reads the three files (`photon serve`'s configuration names them).
    public static func files(authority: String, certificate: String, key: String) throws -> EtcdTLS {
        func read(_ path: String, _ what: String) throws -> String {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw PhotonError("cannot read \(what) \(path)", help: "the management kind uploads it; 'photon apply --local' repairs the plane")
            }
            return String(decoding: data, as: UTF8.self)
        }
        return EtcdTLS(
            authorityPEM: try read(authority, "etcd's certificate authority"),
            certificatePEM: try read(certificate, "the etcd client certificate"),
            privateKeyPEM: try read(key, "the etcd client key"))
    }

    func configuration() throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        do {
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(authorityPEM.utf8)))
            configuration.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8)).map { .certificate($0) }
            configuration.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(privateKeyPEM.utf8), format: .pem))
        } catch {
            throw PhotonError("the etcd client's TLS credentials cannot be read: \(error)", help: "'photon apply --local' writes them again")
        }
        configuration.additionalTrustRoots = []
        configuration.certificateVerification = .fullVerification
        configuration.minimumTLSVersion = .tlsv12
        return configuration
    }
}
