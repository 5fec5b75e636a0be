import PhotonCore
import YAMLReader

extension KindReading {
    /// `access: {role, command, endpoints: [{name, role, url}], env: {NAME: VALUE}, kubeconfig: PATH}`.
    func accessSection(_ section: MappingReader) -> KindAccess? {
        defer { section.finish() }
        let command = section.required("command")?.string()
        var access = command.map { KindAccess(role: section.optional("role")?.string(), command: $0) }
        for item in section.optional("endpoints")?.list() ?? [] {
            guard let endpoint = item.mapping() else { continue }
            defer { endpoint.finish() }
            let name = endpoint.required("name")?.string()
            let role = endpoint.required("role")?.string()
            let urlValue = endpoint.required("url")
            guard let name, let role, let url = urlValue?.string() else { continue }
            let rest = url.replacingOccurrences(of: "{address}", with: "")
            guard url.hasPrefix("http://") || url.hasPrefix("https://"), !rest.contains("{"), !rest.contains(where: \.isWhitespace) else {
                error("an endpoint url is http(s):// with {address} for the machine's address", at: urlValue?.location)
                continue
            }
            access?.endpoints.append(AccessEndpoint(name: name, role: role, url: url))
        }
        for (name, keyLocation, value) in section.optional("env")?.entries() ?? [] {
            guard let text = value.string() else { continue }
            guard Self.isIdentifier(name), name.uppercased() == name else {
                error("env names a variable in capitals, like DOCKER_HOST", at: keyLocation)
                continue
            }
            access?.environment[name] = text
        }
        if let path = section.optional("kubeconfig") {
            if let text = path.string(), text.hasPrefix("/") {
                access?.kubeconfig = text
            } else {
                error("kubeconfig is an absolute path on the machine", at: path.location)
            }
        }
        return access
    }
}
