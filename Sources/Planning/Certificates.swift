import Foundation
import Kinds
import PKI
import PhotonCore

/// A certificate the recorded state lacks, or holds in a form that no longer serves: `apply` issues it
/// before planning (like a generated secret) and records it sealed; `plan` shows its files as known
/// after apply.
public struct PendingCertificate: Sendable, Hashable {
    /// Where it is recorded, among the generated secrets: `<group>/certificates.<name>` for an
    /// authority, `<group>/certificates.<name>/<machine>` for a machine's leaf.
    public var key: String
    /// The authority's key, for a leaf.
    public var issuerKey: String?
    /// Nil for an authority.
    public var request: CertificateRequest?
    /// The authority's common name.
    public var authorityName: String
    /// Why it is (re)issued: "new", "expires within 30 days", "its names changed"…
    public var reason: String
}

enum CertificateKeys {
    static func authority(group: String, name: String) -> String { "\(group)/certificates.\(name)" }
    static func leaf(group: String, name: String, machine: String) -> String { "\(group)/certificates.\(name)/\(machine)" }
}

/// The certificates of the deployment's groups, as the recorded state holds them.
struct CertificateBook {
    let recorded: [String: String]
    let now: Date

    func authority(group: String, name: String) -> IssuedCertificate? {
        recorded[CertificateKeys.authority(group: group, name: name)].flatMap(IssuedCertificate.init(recorded:)).flatMap { issued in
            issued.notAfter.timeIntervalSince(now) < CertificateAuthority.renewalWindow ? nil : issued
        }
    }

    static func request(machine: String, address: String?, usages: [CertificateUsage]) -> CertificateRequest {
        CertificateRequest(commonName: machine, names: [machine, "localhost", "127.0.0.1"] + (address.map { [$0] } ?? []), usages: usages)
    }

    /// A leaf that serves as recorded (nil: it must be issued), and why not when it does not.
    func leaf(group: String, declaration: CertificateDeclaration, machine: String, address: String?) -> (IssuedCertificate?, reason: String) {
        guard let issuer = declaration.issuer, let authority = authority(group: group, name: issuer) else { return (nil, "new authority") }
        guard let issued = recorded[CertificateKeys.leaf(group: group, name: declaration.name, machine: machine)].flatMap(IssuedCertificate.init(recorded:))
        else {
            return (nil, "new")
        }
        let request = Self.request(machine: machine, address: address, usages: declaration.usages)
        if let reason = issued.renewalReason(for: request, issuerFingerprint: authority.issuerFingerprint, now: now) { return (nil, reason) }
        return (issued, "")
    }
}

extension DesiredState {
    /// `certificates` of a group's context: each authority's certificate, or unknown until apply makes it.
    static func authorityValues(_ group: ResolvedGroup, book: CertificateBook) -> TemplateValue {
        var object = TemplateObject()
        for declaration in group.kind.certificates where declaration.isAuthority {
            let value: TemplateValue =
                book.authority(group: group.name, name: declaration.name).map { .text($0.certificatePEM) }
                ?? .unknown("certificate authority \(declaration.name), made at apply")
            object[declaration.name] = ["certificate": value]
        }
        return .object(object)
    }

    /// `machine.certificates` of a machine of `role`: its own leaves, or unknown until apply issues them.
    static func leafValues(_ group: ResolvedGroup, role: String, machine: String, address: String?, book: CertificateBook) -> TemplateValue? {
        let declarations = group.kind.certificates.filter { $0.roles.contains(role) }
        guard !declarations.isEmpty else { return nil }
        var object = TemplateObject()
        for declaration in declarations {
            if let issued = book.leaf(group: group.name, declaration: declaration, machine: machine, address: address).0 {
                object[declaration.name] = ["certificate": .text(issued.certificatePEM), "key": .sensitive(issued.privateKeyPEM)]
            } else {
                let unknown = TemplateValue.unknown("certificate \(declaration.name) of \(machine), issued at apply")
                object[declaration.name] = ["certificate": unknown, "key": unknown]
            }
        }
        return .object(object)
    }
}

extension Planner {
    /// The certificates `apply` must issue before planning `deployment`: authorities the recorded state
    /// lacks (or that expire within the renewal window), and every leaf that is missing, expires within
    /// it, names other addresses, or was signed by an authority that changed.
    public func certificatesToIssue(
        _ deployment: ResolvedDeployment, recorded: RecordedState, now: Date = Date()
    ) throws(DiagnosticsError) -> [PendingCertificate] {
        guard deployment.groups.contains(where: { !$0.kind.certificates.isEmpty }) else { return [] }
        // Addresses as the plan assigns them: every group's machines take theirs in order.
        var machines: [DesiredMachine] = []
        for (groupIndex, group) in deployment.groups.enumerated() {
            for (roleIndex, role) in group.roles.enumerated() where role.count > 0 {
                for index in 1...role.count {
                    machines.append(
                        DesiredMachine(
                            name: DesiredState.machineName(deployment.blueprint.name.value, group.name, role.name, index),
                            group: groupIndex, role: roleIndex, index: index, address: nil, value: .bool(false)))
                }
            }
        }
        try DesiredState.assignAddresses(&machines, blueprint: deployment.blueprint, recorded: recorded)
        let book = CertificateBook(recorded: recorded.generatedSecrets, now: now)
        var pending: [PendingCertificate] = []
        for (groupIndex, group) in deployment.groups.enumerated() where !group.kind.certificates.isEmpty {
            var renewedAuthorities = Set<String>()
            for declaration in group.kind.certificates where declaration.isAuthority {
                let key = CertificateKeys.authority(group: group.name, name: declaration.name)
                guard book.authority(group: group.name, name: declaration.name) == nil else { continue }
                renewedAuthorities.insert(declaration.name)
                pending.append(
                    PendingCertificate(
                        key: key, issuerKey: nil, request: nil,
                        authorityName: "\(deployment.blueprint.name.value)-\(group.name)-\(declaration.name)",
                        reason: recorded.generatedSecrets[key] == nil ? "new" : "expires within 30 days"))
            }
            for declaration in group.kind.certificates {
                guard let issuer = declaration.issuer else { continue }
                for machine in machines where machine.group == groupIndex && declaration.roles.contains(group.roles[machine.role].name) {
                    let (issued, reason) = book.leaf(group: group.name, declaration: declaration, machine: machine.name, address: machine.address)
                    guard issued == nil || renewedAuthorities.contains(issuer) else { continue }
                    pending.append(
                        PendingCertificate(
                            key: CertificateKeys.leaf(group: group.name, name: declaration.name, machine: machine.name),
                            issuerKey: CertificateKeys.authority(group: group.name, name: issuer),
                            request: CertificateBook.request(machine: machine.name, address: machine.address, usages: declaration.usages),
                            authorityName: "", reason: issued == nil ? reason : "new authority"))
                }
            }
        }
        return pending
    }
}

extension PendingCertificate {
    /// Makes every pending certificate (authorities first, so leaves are signed by the new ones) and
    /// returns the values to record, by key.
    public static func issue(_ pending: [PendingCertificate], recorded: [String: String]) throws -> [String: String] {
        var values: [String: String] = [:]
        for certificate in pending where certificate.request == nil {
            values[certificate.key] = try CertificateAuthority.create(commonName: certificate.authorityName).issued.recorded
        }
        var authorities: [String: CertificateAuthority] = [:]
        for certificate in pending {
            guard let request = certificate.request, let issuerKey = certificate.issuerKey else { continue }
            if authorities[issuerKey] == nil {
                guard let text = values[issuerKey] ?? recorded[issuerKey], let issued = IssuedCertificate(recorded: text) else {
                    throw PhotonError("the certificate authority \(issuerKey) is not in the recorded state", help: "apply again")
                }
                authorities[issuerKey] = try CertificateAuthority(issued)
            }
            values[certificate.key] = try authorities[issuerKey]!.issue(request).recorded
        }
        return values
    }
}

/// A recorded certificate that expires within the renewal window: `status` shows it; the next apply
/// renews it.
public struct ExpiringCertificate: Codable, Sendable, Hashable {
    /// Its group, its name in the kind, and the machine for a leaf ("management/etcdMember/d-management-plane-1").
    public var name: String
    public var notAfter: Date

    /// The recorded certificates (among `generatedSecrets`) that expire within 30 days of `now`.
    public static func among(_ generatedSecrets: [String: String], now: Date = Date()) -> [ExpiringCertificate] {
        generatedSecrets.compactMap { key, value -> ExpiringCertificate? in
            guard key.contains("/certificates."), let issued = IssuedCertificate(recorded: value),
                issued.notAfter.timeIntervalSince(now) < CertificateAuthority.renewalWindow
            else { return nil }
            return ExpiringCertificate(name: key.replacingOccurrences(of: "/certificates.", with: "/"), notAfter: issued.notAfter)
        }.sorted { $0.name < $1.name }
    }

    public var group: String { String(name.prefix { $0 != "/" }) }
}
