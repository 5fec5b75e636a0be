import Foundation
import Kinds
import PKI
import PhotonCore
import Planning
import Testing

/// Certificates a kind declares: planned as known after apply until apply issues them, then rendered
/// from the recorded state; renewed when they near expiry, move to another address, or their
/// authority changes.
@Suite("Planner: certificates")
struct CertificatePlanningTests {
    static let blueprint = """
        name: d
        controlPlane: {driver: local, network: 10.213.0.0/24}
        management: {machines: 3}
        """

    static let planner = Planner(
        catalog: PlannerTests.catalog, secrets: SecretSource(environment: [:]),
        artifacts: ["photon": Artifact(path: "/usr/bin/photon", sha256: String(repeating: "ab", count: 32))],
        photonVersion: "test")

    func resolved(_ recorded: RecordedState) throws -> ResolvedDeployment {
        try Resolver(catalog: PlannerTests.catalog, secrets: SecretSource(environment: [:]), recorded: recorded).resolve(PlannerTests.blueprint(Self.blueprint))
    }

    func upload(_ plan: Plan, machine: String, path: String) -> FileChange? {
        plan.actions.lazy.compactMap { action -> FileChange? in
            guard action.machine == machine, case .upload(let file) = action.detail, file.path == path else { return nil }
            return file
        }.first
    }

    /// The recorded state after apply issued everything pending.
    func issued(_ recorded: RecordedState) throws -> RecordedState {
        var recorded = recorded
        let pending = try Self.planner.certificatesToIssue(try resolved(recorded), recorded: recorded)
        recorded.generatedSecrets.merge(try PendingCertificate.issue(pending, recorded: recorded.generatedSecrets)) { _, new in new }
        return recorded
    }

    @Test("a new plane: an authority and, per machine, a member and a client certificate, known after apply; then rendered")
    func newThenRendered() throws {
        let pending = try Self.planner.certificatesToIssue(try resolved(.empty), recorded: .empty)
        #expect(
            pending.map(\.key).sorted() == ["management/certificates.etcdCA"]
                + (1...3).flatMap {
                    ["management/certificates.etcdClient/d-management-plane-\($0)", "management/certificates.etcdMember/d-management-plane-\($0)"]
                }.sorted())
        let member = try #require(pending.first { $0.key == "management/certificates.etcdMember/d-management-plane-2" })
        #expect(member.request?.names.sorted() == ["10.213.0.3", "127.0.0.1", "d-management-plane-2", "localhost"])
        #expect(member.request?.usages == [.client, .server])

        let before = try Self.planner.plan(try resolved(.empty), recorded: .empty)
        #expect(upload(before, machine: "d-management-plane-1", path: "/etc/photon/etcd/member.crt")?.content.isUnknown == true)

        let recorded = try issued(.empty)
        #expect(try Self.planner.certificatesToIssue(try resolved(recorded), recorded: recorded).isEmpty)
        let after = try Self.planner.plan(try resolved(recorded), recorded: recorded)
        let certificate = try #require(upload(after, machine: "d-management-plane-1", path: "/etc/photon/etcd/member.crt"))
        #expect(!certificate.content.isUnknown && !certificate.content.isSensitive && certificate.content.text.contains("BEGIN CERTIFICATE"))
        let key = try #require(upload(after, machine: "d-management-plane-1", path: "/etc/photon/etcd/member.key"))
        #expect(key.content.isSensitive && key.content.display == "(sensitive)" && key.mode == 0o600)
        let authority = try #require(upload(after, machine: "d-management-plane-3", path: "/etc/photon/etcd/ca.crt"))
        #expect(authority.content.text == IssuedCertificate(recorded: recorded.generatedSecrets["management/certificates.etcdCA"]!)!.certificatePEM + "\n")
        // Each machine has its own.
        #expect(upload(after, machine: "d-management-plane-2", path: "/etc/photon/etcd/member.crt")?.sha256 != certificate.sha256)
    }

    @Test("a leaf that expires within 30 days, or names an old address, is issued again; a new authority renews every leaf")
    func renewal() throws {
        var recorded = try issued(.empty)
        let authority = try CertificateAuthority(IssuedCertificate(recorded: recorded.generatedSecrets["management/certificates.etcdCA"]!)!)
        let key = "management/certificates.etcdMember/d-management-plane-1"
        let old = IssuedCertificate(recorded: recorded.generatedSecrets[key]!)!
        recorded.generatedSecrets[key] = try authority.issue(
            CertificateRequest(commonName: "d-management-plane-1", names: old.names, usages: old.usages),
            validity: 20 * 86400
        ).recorded
        var pending = try Self.planner.certificatesToIssue(try resolved(recorded), recorded: recorded)
        #expect(pending.map(\.key) == [key] && pending.first?.reason == "expires within 30 days")

        recorded.generatedSecrets[key] = try authority.issue(CertificateRequest(commonName: "x", names: ["10.9.9.9"], usages: old.usages)).recorded
        pending = try Self.planner.certificatesToIssue(try resolved(recorded), recorded: recorded)
        #expect(pending.map(\.key) == [key] && pending.first?.reason == "its names changed")

        recorded.generatedSecrets["management/certificates.etcdCA"] = try CertificateAuthority.create(commonName: "another").issued.recorded
        pending = try Self.planner.certificatesToIssue(try resolved(recorded), recorded: recorded)
        #expect(pending.count == 6 && pending.allSatisfy { $0.reason == "its authority changed" || $0.reason == "its names changed" })
    }
}
