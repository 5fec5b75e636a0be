import Foundation
import PKI
import PhotonCore
import Testing

@Suite struct CertificateAuthorityTests {
    /// Runs openssl with `arguments` in `directory`; returns its status and output.
    func openssl(_ arguments: [String], in directory: String) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func scratch() throws -> String {
        let directory = NSTemporaryDirectory() + "pki-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    @Test func leafVerifiesAgainstItsAuthorityWithOpenSSL() throws {
        let authority = try CertificateAuthority.create(commonName: "test-etcd-ca")
        let leaf = try authority.issue(
            CertificateRequest(
                commonName: "member-1", names: ["10.1.0.2", "member-1", "localhost", "127.0.0.1"],
                usages: [.server, .client]))
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try authority.issued.certificatePEM.write(toFile: directory + "/ca.crt", atomically: true, encoding: .utf8)
        try leaf.certificatePEM.write(toFile: directory + "/leaf.crt", atomically: true, encoding: .utf8)
        try leaf.privateKeyPEM.write(toFile: directory + "/leaf.key", atomically: true, encoding: .utf8)
        for purpose in ["sslserver", "sslclient"] {
            let verified = try openssl(["verify", "-purpose", purpose, "-CAfile", "ca.crt", "leaf.crt"], in: directory)
            #expect(verified.status == 0, "\(verified.output)")
        }
        let text = try openssl(["x509", "-in", "leaf.crt", "-noout", "-text"], in: directory).output
        #expect(text.contains("IP Address:10.1.0.2"))
        #expect(text.contains("IP Address:127.0.0.1"))
        #expect(text.contains("DNS:member-1"))
        #expect(text.contains("DNS:localhost"))
        #expect(text.contains("CA:FALSE"))
        // The key is the certificate's.
        let certificateKey = try openssl(["x509", "-in", "leaf.crt", "-noout", "-pubkey"], in: directory).output
        let privateKey = try openssl(["pkey", "-in", "leaf.key", "-pubout"], in: directory).output
        #expect(certificateKey == privateKey)
        // Another authority's leaf does not verify.
        let stranger = try CertificateAuthority.create(commonName: "stranger").issue(
            CertificateRequest(commonName: "x", names: ["10.1.0.2"], usages: [.server]))
        try stranger.certificatePEM.write(toFile: directory + "/stranger.crt", atomically: true, encoding: .utf8)
        #expect(try openssl(["verify", "-CAfile", "ca.crt", "stranger.crt"], in: directory).status != 0)
    }

    @Test func clientOnlyCertificateIsNotAServer() throws {
        let authority = try CertificateAuthority.create(commonName: "ca")
        let client = try authority.issue(CertificateRequest(commonName: "photon-serve", names: [], usages: [.client]))
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try authority.issued.certificatePEM.write(toFile: directory + "/ca.crt", atomically: true, encoding: .utf8)
        try client.certificatePEM.write(toFile: directory + "/client.crt", atomically: true, encoding: .utf8)
        #expect(try openssl(["verify", "-purpose", "sslclient", "-CAfile", "ca.crt", "client.crt"], in: directory).status == 0)
        #expect(try openssl(["verify", "-purpose", "sslserver", "-CAfile", "ca.crt", "client.crt"], in: directory).status != 0)
    }

    @Test func recordRoundTripsAndAuthorityReloads() throws {
        let authority = try CertificateAuthority.create(commonName: "ca")
        let reread = try #require(IssuedCertificate(recorded: authority.issued.recorded))
        #expect(reread == authority.issued)
        let reloaded = try CertificateAuthority(reread)
        let leaf = try reloaded.issue(CertificateRequest(commonName: "a", names: ["a"], usages: [.server]))
        #expect(leaf.issuerFingerprint == authority.fingerprint)
        #expect(IssuedCertificate(recorded: "not json") == nil)
        var damaged = authority.issued
        damaged.privateKeyPEM = try CertificateAuthority.create(commonName: "other").issued.privateKeyPEM
        #expect(throws: PhotonError.self) { try CertificateAuthority(damaged) }
    }

    @Test func renewalReasons() throws {
        let authority = try CertificateAuthority.create(commonName: "ca")
        let request = CertificateRequest(commonName: "m", names: ["10.0.0.2", "m"], usages: [.server, .client])
        let leaf = try authority.issue(request)
        #expect(leaf.renewalReason(for: request, issuerFingerprint: authority.fingerprint) == nil)
        // Names in another order are the same names.
        #expect(
            leaf.renewalReason(
                for: CertificateRequest(commonName: "m", names: ["m", "10.0.0.2"], usages: [.client, .server]),
                issuerFingerprint: authority.fingerprint) == nil)
        #expect(
            leaf.renewalReason(
                for: CertificateRequest(commonName: "m", names: ["10.0.0.3", "m"], usages: [.server, .client]),
                issuerFingerprint: authority.fingerprint) == "its names changed")
        #expect(
            leaf.renewalReason(
                for: CertificateRequest(commonName: "m", names: ["10.0.0.2", "m"], usages: [.server]),
                issuerFingerprint: authority.fingerprint) == "its usages changed")
        #expect(leaf.renewalReason(for: request, issuerFingerprint: "sha256:00") == "its authority changed")
        let later = Date().addingTimeInterval(CertificateAuthority.leafValidity - 10 * 86400)
        #expect(leaf.renewalReason(for: request, issuerFingerprint: authority.fingerprint, now: later) == "expires within 30 days")
        let muchLater = Date().addingTimeInterval(CertificateAuthority.leafValidity + 86400)
        #expect(leaf.renewalReason(for: request, issuerFingerprint: authority.fingerprint, now: muchLater) == "expired")
    }

    @Test func leafNeverOutlivesItsAuthority() throws {
        let authority = try CertificateAuthority.create(commonName: "short", validity: 40 * 86400)
        let leaf = try authority.issue(CertificateRequest(commonName: "m", names: ["m"], usages: [.server]))
        #expect(leaf.notAfter <= authority.issued.notAfter)
    }
}
