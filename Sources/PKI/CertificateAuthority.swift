import Crypto
import Foundation
import PhotonCore
import SwiftASN1
import X509

/// What a certificate may be used for: a TLS server, a TLS client, or both (an etcd member is a
/// server to its clients and peers, and a client of its peers).
public enum CertificateUsage: String, Sendable, Codable, CaseIterable, Comparable {
    case server, client

    public static func < (lhs: CertificateUsage, rhs: CertificateUsage) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A certificate with its private key, as photon records it (sealed, with the other secrets) and
/// renders it into the files services read.
public struct IssuedCertificate: Codable, Sendable, Hashable {
    public var certificatePEM: String
    public var privateKeyPEM: String
    public var notBefore: Date
    public var notAfter: Date
    /// The subject alternative names: DNS names and IPv4 addresses, sorted.
    public var names: [String]
    public var usages: [CertificateUsage]
    /// "sha256:<hex>" of the issuer's certificate (its own for an authority): a leaf issued by an
    /// authority that was replaced no longer matches.
    public var issuerFingerprint: String

    /// The certificate's own fingerprint, "sha256:<hex of the DER>".
    public var fingerprint: String { (try? CertificateAuthority.fingerprint(ofPEM: certificatePEM)) ?? "" }

    /// As recorded in the state (JSON).
    public var recorded: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.dateEncodingStrategy = .secondsSince1970
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// Reads a value written by ``recorded``; nil when it is not one.
    public init?(recorded: String) {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        guard let value = try? decoder.decode(IssuedCertificate.self, from: Data(recorded.utf8)) else { return nil }
        self = value
    }

    init(
        certificatePEM: String, privateKeyPEM: String, notBefore: Date, notAfter: Date, names: [String], usages: [CertificateUsage],
        issuerFingerprint: String
    ) {
        self.certificatePEM = certificatePEM
        self.privateKeyPEM = privateKeyPEM
        self.notBefore = notBefore
        self.notAfter = notAfter
        self.names = names
        self.usages = usages
        self.issuerFingerprint = issuerFingerprint
    }

    /// Why this certificate must be issued again for `request` at `now`, or nil when it still serves:
    /// it expires within the renewal window, names other addresses, has other usages, or its issuer changed.
    public func renewalReason(for request: CertificateRequest, issuerFingerprint: String, now: Date = Date()) -> String? {
        if notAfter.timeIntervalSince(now) < CertificateAuthority.renewalWindow {
            return notAfter < now ? "expired" : "expires within \(Int(CertificateAuthority.renewalWindow / 86400)) days"
        }
        if names != request.sortedNames { return "its names changed" }
        if usages != request.usages.sorted() { return "its usages changed" }
        if self.issuerFingerprint != issuerFingerprint { return "its authority changed" }
        return nil
    }
}

/// A leaf certificate a deployment needs: for whom, under which names, for what.
public struct CertificateRequest: Sendable, Hashable {
    public var commonName: String
    /// DNS names and IPv4 addresses.
    public var names: [String]
    public var usages: [CertificateUsage]

    public init(commonName: String, names: [String], usages: [CertificateUsage]) {
        self.commonName = commonName
        self.names = names
        self.usages = usages
    }

    var sortedNames: [String] { Array(Set(names)).sorted() }
}

/// A certificate authority photon keeps for a deployment (P-256 ECDSA, like kubeadm's and etcd's own
/// tooling can use): it signs the leaf certificates of the services that must trust each other, and
/// nothing else trusts it.
public struct CertificateAuthority: Sendable {
    public let issued: IssuedCertificate
    let certificate: Certificate
    let key: P256.Signing.PrivateKey

    /// Ten years, like kubeadm's CA.
    public static let authorityValidity: TimeInterval = 10 * 365 * 86400
    /// One year, like kubeadm's leaf certificates; `apply` renews them within ``renewalWindow``.
    public static let leafValidity: TimeInterval = 365 * 86400
    /// Certificates with less than this left are issued again by the next apply (and `status` warns).
    public static let renewalWindow: TimeInterval = 30 * 86400

    /// A new authority named `commonName`.
    public static func create(commonName: String, validity: TimeInterval = authorityValidity, now: Date = Date()) throws -> CertificateAuthority {
        let now = wholeSeconds(now)
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName(commonName) }
        let notBefore = now.addingTimeInterval(-3600)
        let notAfter = now.addingTimeInterval(validity)
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
            Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
            SubjectKeyIdentifier(hash: Certificate.PublicKey(key.publicKey))
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey), notValidBefore: notBefore,
            notValidAfter: notAfter, issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions,
            issuerPrivateKey: .init(key))
        let pem = try certificate.serializeAsPEM().pemString
        let issued = IssuedCertificate(
            certificatePEM: pem, privateKeyPEM: key.pemRepresentation, notBefore: notBefore, notAfter: notAfter,
            names: [], usages: [], issuerFingerprint: try fingerprint(ofPEM: pem))
        return CertificateAuthority(issued: issued, certificate: certificate, key: key)
    }

    /// The authority a recorded pair describes.
    public init(_ issued: IssuedCertificate) throws {
        do {
            certificate = try Certificate(pemEncoded: issued.certificatePEM)
            key = try P256.Signing.PrivateKey(pemRepresentation: issued.privateKeyPEM)
        } catch {
            throw PhotonError(
                "a recorded certificate authority cannot be read: \(error)",
                help: "its record in the state is damaged; restore the state from a backup")
        }
        guard certificate.publicKey == Certificate.PublicKey(key.publicKey) else {
            throw PhotonError("a recorded certificate authority's key does not match its certificate", help: "its record in the state is damaged")
        }
        self.issued = issued
    }

    init(issued: IssuedCertificate, certificate: Certificate, key: P256.Signing.PrivateKey) {
        self.issued = issued
        self.certificate = certificate
        self.key = key
    }

    public var fingerprint: String { issued.issuerFingerprint }

    /// A new leaf certificate signed by this authority.
    public func issue(_ request: CertificateRequest, validity: TimeInterval = leafValidity, now: Date = Date()) throws -> IssuedCertificate {
        let now = Self.wholeSeconds(now)
        let leafKey = P256.Signing.PrivateKey()
        let subject = try DistinguishedName { CommonName(request.commonName) }
        let names = request.sortedNames
        let alternativeNames = names.map(Self.alternativeName)
        let usages = Array(Set(request.usages)).sorted()
        let purposes: [ExtendedKeyUsage.Usage] = usages.map { $0 == .server ? .serverAuth : .clientAuth }
        let notBefore = now.addingTimeInterval(-3600)
        // A leaf never outlives its authority.
        let notAfter = min(now.addingTimeInterval(validity), certificate.notValidAfter)
        let publicKey = Certificate.PublicKey(leafKey.publicKey)
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
            try ExtendedKeyUsage(purposes)
            SubjectKeyIdentifier(hash: publicKey)
            if let authorityKey = try? certificate.extensions.subjectKeyIdentifier {
                AuthorityKeyIdentifier(keyIdentifier: authorityKey.keyIdentifier)
            }
            if !alternativeNames.isEmpty { SubjectAlternativeNames(alternativeNames) }
        }
        let leaf = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey, notValidBefore: notBefore, notValidAfter: notAfter,
            issuer: certificate.subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions, issuerPrivateKey: .init(key))
        return IssuedCertificate(
            certificatePEM: try leaf.serializeAsPEM().pemString, privateKeyPEM: leafKey.pemRepresentation, notBefore: notBefore,
            notAfter: notAfter, names: names, usages: usages, issuerFingerprint: fingerprint)
    }

    /// A subject alternative name: an IPv4 address, or else a DNS name.
    public static func alternativeName(_ name: String) -> GeneralName {
        guard let address = IPv4Address(name) else { return .dnsName(name) }
        let value = address.value
        return .ipAddress(ASN1OctetString(contentBytes: [UInt8(value >> 24), UInt8((value >> 16) & 0xff), UInt8((value >> 8) & 0xff), UInt8(value & 0xff)]))
    }

    /// Certificates hold times to the second: so do the records of them.
    static func wholeSeconds(_ date: Date) -> Date { Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down)) }

    /// "sha256:<hex of the DER>" of a PEM certificate.
    public static func fingerprint(ofPEM pem: String) throws -> String {
        let certificate: Certificate
        do {
            certificate = try Certificate(pemEncoded: pem)
        } catch {
            throw PhotonError("not a PEM certificate: \(error)")
        }
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return "sha256:" + SHA256.hash(data: serializer.serializedBytes).map { String(format: "%02x", $0) }.joined()
    }
}
