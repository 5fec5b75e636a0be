import Foundation
import PhotonCore
import YAMLReader

/// Where photon gets the binaries the kinds bring (kubeadm, mesos-master), when not from upstream.
public struct BinarySources: Sendable {
    /// A folder on the installer (absolute, resolved against the blueprint's folder) or an http(s) mirror,
    /// both laid out `<arch>/<file>` as `photon bundle` writes them.
    public var from: Located<String>?
    /// Digests of the user's own builds, by binary name: they replace the kind's for every architecture.
    public var sha256: [String: Located<String>]

    public init(from: Located<String>? = nil, sha256: [String: Located<String>] = [:]) {
        self.from = from
        self.sha256 = sha256
    }

    /// Whether `from` is a mirror (a URL) rather than a folder.
    public var isMirror: Bool { from.map { Self.isURL($0.value) } ?? false }

    public static func isURL(_ text: String) -> Bool { text.hasPrefix("https://") || text.hasPrefix("http://") }
}

extension BlueprintReading {
    /// `binaries: {from: FOLDER-OR-URL, sha256: {NAME: DIGEST}}`.
    func binariesSection(_ value: YAMLValue) -> BinarySources? {
        guard let section = value.mapping() else { return nil }
        defer { section.finish() }
        var sources = BinarySources()
        if let fromValue = section.optional("from"), let text = fromValue.string() {
            if BinarySources.isURL(text) {
                if text.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value >= 0x7f }) {
                    error("binaries.from has spaces or control characters", at: fromValue.location)
                } else {
                    sources.from = Located(text.hasSuffix("/") ? String(text.dropLast()) : text, at: fromValue.location)
                }
            } else if text.contains("://") {
                error(
                    "binaries.from must be a folder or an http(s) URL, found '\(Self.shown(text))'", at: fromValue.location,
                    help: "give a folder made by `photon bundle`, or a mirror that serves the same layout")
            } else {
                let path = text.hasPrefix("/") ? text : (environment.baseDirectory.map { $0.isEmpty ? "." : $0 } ?? ".") + "/" + text
                sources.from = Located(URL(fileURLWithPath: path).standardizedFileURL.path, at: fromValue.location)
            }
        }
        for (name, _, digest) in section.optional("sha256")?.entries() ?? [] {
            guard let text = digest.string() else { continue }
            let lower = text.lowercased()
            guard lower.utf8.count == 64, lower.allSatisfy(\.isHexDigit) else {
                error("binaries.sha256.\(Self.shown(name)) must be a SHA-256: 64 hex digits", at: digest.location, help: "`sha256sum FILE` prints it")
                continue
            }
            sources.sha256[name] = Located(lower, at: digest.location)
        }
        return sources
    }
}
