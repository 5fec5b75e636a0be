/// How the file a template renders is read on the machine. It decides how every value is written into
/// the file: a JSON string's content, a YAML double-quoted scalar's, a shell word's… A kind declares it
/// under `formats:` in kind.yaml, or photon infers it from the template's name.
public enum TemplateFormat: String, Sendable, CaseIterable, Codable {
    /// JSON (`daemon.json`): values inside strings, escaped; outside strings only numbers and true/false.
    case json
    /// YAML (`kubeadm-init.yaml`): values inside double-quoted scalars, escaped; single-quoted with `''`;
    /// plain scalars only for simple words.
    case yaml
    /// TOML (`containerd.toml`): values inside basic strings, escaped.
    case toml
    /// Java properties, as ZooKeeper's `zoo.cfg` is read: values escaped, no line breaks.
    case properties
    /// A file shell scripts source and systemd reads as `EnvironmentFile=` (`/etc/default/*`): values
    /// inside double quotes, with `\ " $ \`` escaped; one line each.
    case env
    /// HAProxy's configuration: values inside double quotes, escaped; one line each.
    case haproxy
    /// A systemd unit: `%` doubled, no quotes, backslashes or line breaks in values.
    case systemd
    /// Plain text read line by line: a value cannot add a line (no line breaks).
    case text
    /// Plain text whose values may span lines (a certificate, a key): no escaping, only line breaks and
    /// tabs among the control characters.
    case multiline

    /// The format a template's name implies: by its extension (`.crt`, `.key` and `.pem` are multiline),
    /// and two well-known `.cfg` files.
    public static func inferred(fromTemplateName name: String) -> TemplateFormat {
        let base = name.split(separator: "/").last.map(String.init) ?? name
        switch base {
        case "zoo.cfg": return .properties
        case "haproxy.cfg": return .haproxy
        default: break
        }
        guard let dot = base.lastIndex(of: "."), dot != base.startIndex else { return .text }
        switch base[base.index(after: dot)...].lowercased() {
        case "json": return .json
        case "yaml", "yml": return .yaml
        case "toml": return .toml
        case "properties": return .properties
        case "env": return .env
        case "service", "socket", "timer", "mount", "automount", "path", "slice", "target", "swap": return .systemd
        // Certificates and keys: PEM, several lines.
        case "crt", "cert", "pem", "key", "csr": return .multiline
        default: return .text
        }
    }
}

/// Where one rendering lands: a file of some format, one argument of a command, or a path on a machine.
public enum RenderTarget: Sendable, Hashable {
    case file(TemplateFormat)
    /// An argument of a command run as an argument list. `isCommandName` for the first one.
    case argument(isCommandName: Bool)
    /// A path on a machine (an upload's destination, a `creates` guard).
    case path
}
