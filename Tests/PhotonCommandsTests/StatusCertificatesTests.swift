import Foundation
import PKI
import Planning
import StateStore
import Testing

/// `status` warns about certificates that expire within 30 days (the next apply renews them).
@Suite("Status: expiring certificates")
struct StatusCertificatesTests {
    @Test("only recorded certificates within 30 days of expiry are listed, named by group, certificate and machine")
    func expiring() throws {
        let authority = try CertificateAuthority.create(commonName: "ca")
        let request = CertificateRequest(commonName: "m", names: ["m"], usages: [.server])
        let soon = try authority.issue(request, validity: 10 * 86400)
        let later = try authority.issue(request)
        let recorded = [
            "management/certificates.etcdCA": authority.issued.recorded,
            "management/certificates.etcdMember/d-management-plane-1": soon.recorded,
            "k8s/certificates.etcdMember/d-k8s-etcd-1": later.recorded,
            "secrets.token": "0123",
        ]
        let expiring = ExpiringCertificate.among(recorded)
        #expect(expiring.map(\.name) == ["management/etcdMember/d-management-plane-1"])
        #expect(expiring.first?.group == "management")
        #expect(
            ExpiringCertificate.among(recorded, now: Date().addingTimeInterval(340 * 86400)).map(\.name)
                == ["k8s/etcdMember/d-k8s-etcd-1", "management/etcdMember/d-management-plane-1"])
    }

    @Test("photon status shows them, with the days left")
    func statusShowsThem() async throws {
        try await CLIFixture.withTemporaryDirectory { directory in
            let state = directory.appendingPathComponent("demo").path
            let store = try SQLiteStateStore.open(directory: state, deployment: "demo")
            let authority = try CertificateAuthority.create(commonName: "ca")
            let soon = try authority.issue(CertificateRequest(commonName: "m", names: ["m"], usages: [.server]), validity: 12 * 86400 + 3600)
            try await store.storeGeneratedSecrets([
                "management/certificates.etcdCA": authority.issued.recorded,
                "management/certificates.etcdMember/demo-management-plane-1": soon.recorded,
            ])
            try store.close()
            let status = try await CLIFixture.run(["status", "--state", state])
            #expect(status.status == 0, "\(status.stderr)")
            #expect(
                status.stdout.contains(
                    "certificates expiring within 30 days (the next 'photon apply' renews them):\n  management/etcdMember/demo-management-plane-1  in 12 days"),
                "\(status.stdout)")
            #expect(!status.stdout.contains("BEGIN"), "no certificate or key is printed")
        }
    }
}
