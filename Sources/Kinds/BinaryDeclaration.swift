import PhotonCore
import YAMLReader

/// A file the kind's machines need that photon brings itself (kubeadm, a tarball of CNI plugins):
/// where it comes from upstream and, for each version of the kind it knows, the file's own release and
/// its SHA-256 per architecture. Steps put it on machines with `binary: NAME`.
public struct BinaryDeclaration: Sendable, Hashable {
    public var name: String
    /// Upstream URL with `{version}` (the file's release) and `{arch}`; nil when the software publishes
    /// no binaries (the blueprint must then name a folder or mirror and the digests).
    public var url: String?
    /// The file's name in a bundle or mirror when it is not the URL's last part, with the same placeholders.
    public var file: String?
    /// By the kind's `version` setting.
    public var releases: [String: BinaryRelease]
    public var location: SourceLocation

    /// The file's name in a bundle or a mirror (`<arch>/<file>`): the last part of the upstream URL, or the name.
    public func fileName(release: String, arch: String) -> String {
        if let file { return Self.expand(file, release: release, arch: arch) }
        guard let url else { return name }
        let expanded = Self.expand(url, release: release, arch: arch)
        return expanded.split(separator: "/").last.map(String.init) ?? name
    }

    public static func expand(_ template: String, release: String, arch: String) -> String {
        template.replacingOccurrences(of: "{version}", with: release).replacingOccurrences(of: "{arch}", with: arch)
    }
}

/// One release of a binary, for one version of the kind.
public struct BinaryRelease: Sendable, Hashable {
    /// The file's own version (crictl 1.30.0 for Kubernetes 1.30.4); the kind's version when not given.
    public var release: String
    /// Lowercase hex SHA-256 by architecture (`amd64`, `arm64`).
    public var sha256: [String: String]
}

/// How a `binary` step lands: as the file at a path, or as an archive unpacked into a folder.
public enum BinaryPlacement: Sendable {
    case file(path: Template, mode: Int)
    case unpack(into: Template, strip: Int)
}

extension BinaryDeclaration {
    /// Architectures photon knows binaries for, by `uname -m`.
    public static let architectures = ["x86_64": "amd64", "aarch64": "arm64"]

    /// Where an archive waits on the machine before it is unpacked; its digest beside the folder says
    /// which archive was unpacked last.
    public static func archivePath(_ name: String) -> String { "/var/lib/photon/binaries/\(name).tar.gz" }

    static func isDigest(_ text: String) -> Bool {
        text.utf8.count == 64
            && text.utf8.allSatisfy { ("0"..."9").contains(Character(UnicodeScalar($0))) || ("a"..."f").contains(Character(UnicodeScalar($0))) }
    }
}

extension KindReading {
    /// `binaries: {NAME: {url: …, sha256: {VERSION: {release: …, amd64: …, arm64: …}}}}`.
    func binariesSection(_ value: YAMLValue) -> [String: BinaryDeclaration] {
        var binaries: [String: BinaryDeclaration] = [:]
        for (name, keyLocation, body) in value.entries() ?? [] {
            guard let section = body.mapping() else { continue }
            defer { section.finish() }
            if !Self.isBinaryName(name) {
                section.abandon()
                error("binary name '\(name)' must be letters, digits, '.', '_' and '-'", at: keyLocation)
                continue
            }
            var url: String?
            if let urlValue = section.optional("url"), let text = urlValue.string() {
                if let problem = Self.urlProblem(text) { error("binary \(name): \(problem)", at: urlValue.location) } else { url = text }
            }
            var file: String?
            if let fileValue = section.optional("file"), let text = fileValue.string() {
                let bare = text.replacingOccurrences(of: "{version}", with: "").replacingOccurrences(of: "{arch}", with: "")
                if !Self.isBinaryName(bare) || bare.contains("{") {
                    error("binary \(name): file must be a file name (letters, digits, '.', '_', '-', {version}, {arch})", at: fileValue.location)
                } else {
                    file = text
                }
            }
            var releases: [String: BinaryRelease] = [:]
            for (version, versionLocation, digests) in section.optional("sha256")?.entries() ?? [] {
                var release = version
                var sha256: [String: String] = [:]
                for (key, location, item) in digests.entries() ?? [] {
                    guard let text = item.string() else { continue }
                    if key == "release" {
                        release = text
                    } else if !BinaryDeclaration.architectures.values.contains(key) {
                        error(
                            "binary \(name) \(version): '\(key)' is not an architecture", at: location,
                            help:
                                "architectures are \(BinaryDeclaration.architectures.values.sorted().joined(separator: ", ")); 'release' names the file's own version"
                        )
                    } else if !BinaryDeclaration.isDigest(text) {
                        error("binary \(name) \(version) \(key): a SHA-256 is 64 lowercase hex digits", at: item.location)
                    } else {
                        sha256[key] = text
                    }
                }
                if sha256.isEmpty { error("binary \(name) \(version) has no digest", at: versionLocation) }
                releases[version] = BinaryRelease(release: release, sha256: sha256)
            }
            binaries[name] = BinaryDeclaration(name: name, url: url, file: file, releases: releases, location: keyLocation)
        }
        return binaries
    }

    /// The placement of a `binary` step: `path` (and `mode`) or `unpack` (and `strip`).
    func binaryPlacement(_ section: MappingReader, name: String?) -> BinaryPlacement? {
        if let unpack = section.optional("unpack") {
            if section.has("path") {
                section.ignore("path")
                error("a binary step has 'path' or 'unpack', not both", at: unpack.location)
            }
            let strip = section.optional("strip")?.int(in: 0...10) ?? 0
            return compile(unpack).map { .unpack(into: $0, strip: strip) }
        }
        let path = section.required("path", help: "give 'path' for a file or 'unpack' for an archive").flatMap(compile)
        let mode = section.optional("mode").flatMap(fileMode) ?? 0o755
        return path.map { .file(path: $0, mode: mode) }
    }

    static func isBinaryName(_ name: String) -> Bool {
        !name.isEmpty && !name.contains("{") && name.utf8.count <= 64 && !name.hasPrefix(".")
            && name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0)) }
    }

    static func urlProblem(_ url: String) -> String? {
        guard url.hasPrefix("https://") || url.hasPrefix("http://") else { return "the url must start with https:// or http://" }
        var rest = url
        for placeholder in ["{version}", "{arch}"] { rest = rest.replacingOccurrences(of: placeholder, with: "") }
        if rest.contains("{") || rest.contains("}") { return "the url may only use {version} and {arch}" }
        if rest.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value >= 0x7f }) { return "the url has spaces or control characters" }
        return nil
    }
}

extension KindReading {
    /// Unpacks the archive a `binary … unpack:` step uploaded, unless the folder's stamp says this very
    /// archive was unpacked there last; the stamp is written only after tar succeeded (a run killed
    /// halfway, or a torn stamp, unpacks again).
    func unpackStep(after upload: Step, name: String, into folder: Template, strip: Int) -> Step? {
        let archive = BinaryDeclaration.archivePath(name)
        let unpack = #"install -d "$2" && tar -xzf "$1" -C "$2" --no-same-owner --strip-components="$3" && sha256sum < "$1" > "$2/.photon-$4.sha256""#
        let unpacked = #"[ -f "$2/.photon-$4.sha256" ] && sha256sum < "$1" | cmp -s - "$2/.photon-$4.sha256""#
        let arguments = [literal(archive), folder, literal(String(strip)), literal(name)]
        guard let sh = literal("sh"), let dashC = literal("-c"), let run = literal(unpack), let check = literal(unpacked),
            arguments.allSatisfy({ $0 != nil })
        else { return nil }
        let tail = arguments.compactMap { $0 }
        return Step(
            action: .run([sh, dashC, run, sh] + tail), name: "unpack \(name)", on: upload.on, via: nil, when: upload.when,
            unless: [sh, dashC, check, sh] + tail, creates: nil, timeout: upload.timeout, retry: nil, location: upload.location)
    }

    /// A template of fixed text photon writes itself.
    func literal(_ text: String) -> Template? {
        try? Template(text, name: "photon", origin: TextOrigin(SourceLocation(file: folder + "/kind.yaml", line: 1, column: 1)))
    }
}
