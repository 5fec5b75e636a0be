import PKI
import PhotonCore
import YAMLReader

/// A certificate a kind has photon make for each cluster (`certificates:` in kind.yaml): an authority,
/// or a leaf that every machine of some roles gets, signed by one of the kind's authorities.
///
/// Templates read an authority's certificate as `{{certificates.<name>.certificate}}` and a machine's
/// own leaf as `{{machine.certificates.<name>.certificate}}` and `{{machine.certificates.<name>.key}}`
/// (sensitive). A leaf names its machine: its address, host name, `localhost` and `127.0.0.1`.
public struct CertificateDeclaration: Sendable {
    public var name: String
    /// The authority that signs it; nil when it is an authority itself.
    public var issuer: String?
    /// The roles whose machines each get one (leaves only).
    public var roles: [String]
    public var usages: [CertificateUsage]
    public var location: SourceLocation

    public var isAuthority: Bool { issuer == nil }
}

extension KindReading {
    func certificatesSection(_ value: YAMLValue) -> [CertificateDeclaration] {
        (value.entries() ?? []).compactMap { name, keyLocation, body in
            if !Self.isIdentifier(name) {
                error("certificate name '\(name)' must be a word of letters, digits and '_'", at: keyLocation)
            }
            guard let section = body.mapping() else { return nil }
            defer { section.finish() }
            let authority = section.optional("authority")?.bool() ?? false
            let issuerValue = section.optional("issuer")
            let issuer = issuerValue?.string()
            let rolesValue = section.optional("roles")
            let roles = rolesValue?.list()?.compactMap { $0.string() } ?? []
            let usagesValue = section.optional("usages")
            let usages =
                usagesValue?.list()?.compactMap { item in
                    item.parsed("server or client") { CertificateUsage(rawValue: $0) }
                } ?? []
            if authority {
                if issuer != nil || rolesValue != nil || usagesValue != nil {
                    error(
                        "certificate authority '\(name)' takes no issuer, roles or usages", at: keyLocation,
                        help: "an authority signs leaves; declare each leaf with 'issuer: \(name)'")
                }
                return CertificateDeclaration(name: name, issuer: nil, roles: [], usages: [], location: keyLocation)
            }
            guard let issuer else {
                error("certificate '\(name)' needs 'issuer' (the authority that signs it) or 'authority: true'", at: keyLocation)
                return nil
            }
            if roles.isEmpty { error("certificate '\(name)' needs 'roles': the roles whose machines each get one", at: rolesValue?.location ?? keyLocation) }
            if usagesValue == nil || usagesValue?.list()?.isEmpty == true {
                error("certificate '\(name)' needs 'usages': server, client or both", at: usagesValue?.location ?? keyLocation)
            }
            return CertificateDeclaration(name: name, issuer: issuer, roles: roles, usages: Array(Set(usages)).sorted(), location: keyLocation)
        }
    }
}

extension KindChecks {
    /// Issuers are the kind's authorities, roles exist.
    mutating func checkCertificates() {
        let authorities = kind.certificates.filter(\.isAuthority).map(\.name)
        for certificate in kind.certificates {
            if let issuer = certificate.issuer, !authorities.contains(issuer) {
                diagnostics.error(
                    "certificate '\(certificate.name)' names issuer '\(issuer)', which is not an authority of kind \(kind.name)",
                    at: certificate.location, help: Suggestions.help(for: issuer, among: authorities, noun: "authority"))
            }
            for role in certificate.roles where kind.role(role) == nil {
                diagnostics.error(
                    "certificate '\(certificate.name)' names role '\(role)', which kind \(kind.name) does not have", at: certificate.location,
                    help: Suggestions.help(for: role, among: kind.roles.map(\.name), noun: "role"))
            }
        }
    }

    /// `certificates.<authority>.certificate` and `machine.certificates.<leaf>.certificate|key`.
    mutating func checkCertificatePath(_ path: [String], at location: SourceLocation, machine: Bool) {
        let names = kind.certificates.filter { $0.isAuthority != machine }.map(\.name)
        let offset = machine ? 2 : 1
        guard path.count > offset else { return }
        let name = path[offset]
        let prefix = machine ? "machine.certificates" : "certificates"
        guard names.contains(name) else {
            let what = machine ? "leaf certificates (a machine's own)" : "certificate authorities"
            diagnostics.error(
                "'\(path.joined(separator: "."))' does not exist: kind \(kind.name) declares no \(what) named '\(name)' under certificates",
                at: location, help: Suggestions.help(for: name, among: names, noun: "certificate"))
            return
        }
        let fields = machine ? ["certificate", "key"] : ["certificate"]
        if path.count > offset + 1, !fields.contains(path[offset + 1]) {
            diagnostics.error(
                "'\(path.joined(separator: "."))' does not exist: \(prefix).\(name) has \(fields.joined(separator: " and "))", at: location,
                help: Suggestions.help(for: path[offset + 1], among: fields, noun: "name"))
        }
    }
}
