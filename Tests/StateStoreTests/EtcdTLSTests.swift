import EngineTestSupport
import Etcd
import Foundation
import PKI
import PhotonCore
import Testing

/// The management plane's etcd as the management kind sets it up (client and peer TLS, client
/// certificates required), attacked from outside: only holders of a certificate of its authority get in.
@Suite("etcd with TLS and client certificates", .tags(.security))
struct EtcdTLSTests {
    @Test("a client with the authority's certificate reads and writes; plain HTTP, no certificate or another authority's certificate get nothing")
    func onlyCertificateHoldersGetIn() async throws {
        let etcd = try LocalEtcd()
        defer { etcd.stop() }
        let trusted = try etcd.client()
        try await trusted.put("/photon/demo/op/000001", Array("{}".utf8))
        #expect(try await trusted.get("/photon/demo/op/000001")?.string == "{}")

        // Plain HTTP on the client port: not even an answer.
        let plain = try await HostCommand.run([
            "curl", "-s", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
            "-d", #"{"key":"L3Bob3Rvbi9kZW1vL29wLzAwMDAwMg==","value":"e30="}"#,
            "http://127.0.0.1:\(etcd.clientPort)/v3/kv/put",
        ])
        #expect(plain.stdout == "000" || plain.stdout.hasPrefix("4"), "plain HTTP answered \(plain.stdout)")

        // TLS without a client certificate: the handshake is refused.
        let anonymous = try await HostCommand.run([
            "curl", "-s", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", etcd.directory + "/ca.crt",
            "-X", "POST", "-d", #"{"key":"L3Bob3Rvbi9kZW1vL29wLzAwMDAwMg==","value":"e30="}"#,
            "https://127.0.0.1:\(etcd.clientPort)/v3/kv/put",
        ])
        #expect(anonymous.stdout == "000", "a client without a certificate got HTTP \(anonymous.stdout)")

        // A certificate from another authority (with the right name and the server's CA trusted).
        let stranger = try CertificateAuthority.create(commonName: "attacker")
        let forged = try stranger.issue(CertificateRequest(commonName: "test-client", names: [], usages: [.client]))
        let intruder = try EtcdClient(
            endpoints: [etcd.clientURL],
            tls: EtcdTLS(
                authorityPEM: etcd.authority!.issued.certificatePEM,
                certificatePEM: forged.certificatePEM, privateKeyPEM: forged.privateKeyPEM))
        await #expect(throws: EtcdError.self) { try await intruder.put("/photon/demo/op/000002", Array("{}".utf8)) }

        // A client that trusts another authority refuses the member (someone in the middle).
        let genuine = try etcd.authority!.issue(CertificateRequest(commonName: "c", names: [], usages: [.client]))
        let misled = try EtcdClient(
            endpoints: [etcd.clientURL],
            tls: EtcdTLS(
                authorityPEM: stranger.issued.certificatePEM,
                certificatePEM: genuine.certificatePEM, privateKeyPEM: genuine.privateKeyPEM))
        await #expect(throws: EtcdError.self) { _ = try await misled.get("/photon/demo/op/000001") }

        // Nothing the refused clients sent was written.
        #expect(try await trusted.get("/photon/demo/op/000002") == nil)
    }

    @Test("an https endpoint without credentials is refused before any connection")
    func httpsNeedsCredentials() throws {
        #expect(throws: PhotonError.self) { _ = try EtcdClient(endpoints: ["https://127.0.0.1:1"]) }
    }
}
