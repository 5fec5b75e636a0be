import Crypto
import Foundation
import NIOSSL
import PKI
import PhotonCore
import SwiftASN1
import X509

/// The management plane's TLS certificate: one self-signed P-256 certificate that every API server
/// (and the installer's agent, with its own) presents, and that clients pin: they trust it alone, so
/// no other certificate, however it is signed, is accepted.
public struct PinnedCertificate: Sendable, Hashable {
    public var certificatePEM: String
    /// "sha256:<hex of the DER>", what the context file records and `status` shows.
    public var fingerprint: String

    public init(certificatePEM: String) throws {
        self.certificatePEM = certificatePEM
        self.fingerprint = try Self.fingerprint(ofPEM: certificatePEM)
    }

    public static func fingerprint(ofPEM pem: String) throws -> String {
        do {
            return try CertificateAuthority.fingerprint(ofPEM: pem)
        } catch {
            throw PhotonError("the pinned certificate is not a PEM certificate: \(error)")
        }
    }

    /// A client configuration that accepts this certificate and nothing else. The name is not checked:
    /// clients reach the plane by address, through HAProxy or directly, and the pin is the identity.
    public func clientTLS() throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .certificates([try NIOSSLCertificate(bytes: Array(certificatePEM.utf8), format: .pem)])
        configuration.additionalTrustRoots = []
        configuration.certificateVerification = .noHostnameVerification
        configuration.minimumTLSVersion = .tlsv12
        return configuration
    }
}

/// A certificate and its private key, as a server holds them.
public struct ServerIdentity: Sendable {
    public var certificate: PinnedCertificate
    public var privateKeyPEM: String

    /// A new self-signed certificate for `commonName`, valid for ten years, usable as its own trust root.
    public static func generate(commonName: String, addresses: [String] = []) throws -> ServerIdentity {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName(commonName) }
        let now = Date()
        let alternativeNames = [.dnsName(commonName)] + addresses.filter { IPv4Address($0) != nil }.map(CertificateAuthority.alternativeName)
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
            Critical(KeyUsage(digitalSignature: true, keyCertSign: true))
            try ExtendedKeyUsage([.serverAuth])
            SubjectAlternativeNames(alternativeNames)
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(10 * 365 * 86400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions, issuerPrivateKey: .init(key))
        return ServerIdentity(
            certificate: try PinnedCertificate(certificatePEM: try certificate.serializeAsPEM().pemString),
            privateKeyPEM: key.pemRepresentation)
    }

    /// Reads a pair written by ``write(certificate:key:)``.
    public static func read(certificate certificatePath: String, key keyPath: String) throws -> ServerIdentity {
        guard let certificate = try? String(contentsOfFile: certificatePath, encoding: .utf8) else {
            throw PhotonError("cannot read the TLS certificate \(certificatePath)")
        }
        guard let key = try? String(contentsOfFile: keyPath, encoding: .utf8) else {
            throw PhotonError("cannot read the TLS private key \(keyPath)", help: "it must be readable by the user photon runs as (mode 0600)")
        }
        return ServerIdentity(certificate: try PinnedCertificate(certificatePEM: certificate), privateKeyPEM: key)
    }

    /// The pair at these paths, made first when either is missing (key 0600, certificate 0644).
    public static func readOrGenerate(certificate certificatePath: String, key keyPath: String, commonName: String) throws -> ServerIdentity {
        if FileManager.default.fileExists(atPath: certificatePath), FileManager.default.fileExists(atPath: keyPath) {
            return try read(certificate: certificatePath, key: keyPath)
        }
        let identity = try generate(commonName: commonName)
        try identity.write(certificate: certificatePath, key: keyPath)
        return identity
    }

    public func write(certificate certificatePath: String, key keyPath: String) throws {
        for path in [certificatePath, keyPath] {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
        }
        guard FileManager.default.createFile(atPath: keyPath, contents: Data(privateKeyPEM.utf8), attributes: [.posixPermissions: 0o600]),
            FileManager.default.createFile(atPath: certificatePath, contents: Data(certificate.certificatePEM.utf8), attributes: [.posixPermissions: 0o644])
        else {
            throw PhotonError("cannot write the TLS pair \(certificatePath), \(keyPath)")
        }
    }

    public func serverTLS() throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(certificate.certificatePEM.utf8), format: .pem))],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(privateKeyPEM.utf8), format: .pem)))
        configuration.minimumTLSVersion = .tlsv12
        return configuration
    }
}
