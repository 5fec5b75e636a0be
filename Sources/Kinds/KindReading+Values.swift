import PhotonCore
import YAMLReader

/// The small values a kind's steps are made of: retry policies, file modes, commands and templates.
extension KindReading {
    func retryPolicy(_ value: YAMLValue) -> RetryPolicy? {
        guard let section = value.mapping() else { return nil }
        defer { section.finish() }
        let attempts = section.required("attempts")?.int(in: 1...1000)
        let delay = section.optional("delay")?.parsed("a duration (like 2s)") { TimeSpan($0) } ?? TimeSpan(seconds: 2)
        guard let attempts else { return nil }
        return RetryPolicy(attempts: attempts, delay: delay)
    }

    func fileMode(_ value: YAMLValue) -> Int? {
        value.parsed("an octal file mode (like \"0644\")") { text in
            guard (3...4).contains(text.count), let mode = Int(text, radix: 8), mode <= 0o7777 else { return nil }
            return mode
        }
    }

    /// A command: a list of arguments, each a template.
    func command(_ value: YAMLValue) -> [Template]? {
        guard let items = value.list() else { return nil }
        if items.isEmpty {
            error("a command needs at least one argument", at: value.location)
            return nil
        }
        let compiled = items.compactMap(compile)
        return compiled.count == items.count ? compiled : nil
    }

    func compile(_ value: YAMLValue) -> Template? {
        guard let text = value.string() else { return nil }
        let origin = value.node.textOrigin ?? TextOrigin(value.location)
        do {
            return try Template(text, name: "\(value.path)", origin: origin)
        } catch {
            for diagnostic in error.diagnostics { reader.error(diagnostic.message, at: diagnostic.location, help: diagnostic.help) }
            return nil
        }
    }

    static func isIdentifier(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, first.isASCII, first.properties.isAlphabetic else { return false }
        return text.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_") }
    }
}
