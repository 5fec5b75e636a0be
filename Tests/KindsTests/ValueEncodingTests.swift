import Kinds
import PhotonCore
import Testing

// How values are written into each format, and refused where they cannot be. The property test
// (PlanningTests/HostileValueTests) checks the shipped kinds with the real readers; these pin the rules.

/// `source` rendered as a file of `format` with `value` as `{{v}}`.
func encoded(_ source: String, _ value: TemplateValue, as target: RenderTarget, partials: [String: String] = [:]) throws(DiagnosticsError) -> String {
    try compile(source).render(["v": value], partials: library(partials), options: RenderOptions(target: target, subject: "t")).text
}

/// The refusal `source` gets for `value`: its message after "cannot be written into t: ".
func refusal(_ source: String, _ value: TemplateValue, as target: RenderTarget, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> String? {
    do {
        let text = try encoded(source, value, as: target)
        Issue.record("expected a refusal, rendered \(String(reflecting: text))", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error.diagnostics.first?.message.components(separatedBy: "cannot be written into t: ").last
    }
}

@Suite("Value encoding")
struct ValueEncodingTests {
    @Test("JSON: escaped inside strings; outside them only numbers, true, false, null")
    func json() throws {
        #expect(try encoded(#"{"a": "{{v}}"}"#, "x\"y\\z\n\t\u{2028}", as: .file(.json)) == #"{"a": "x\"y\\z\n\t\u2028"}"#)
        #expect(try encoded(#"{"a": "x\"{{v}}"}"#, "\"", as: .file(.json)) == #"{"a": "x\"\""}"#)
        #expect(try encoded(#"{"n": {{v}}}"#, "42", as: .file(.json)) == #"{"n": 42}"#)
        #expect(
            refusal(#"{"n": {{v}}}"#, "1, \"hosts\": [\"tcp://0.0.0.0:2375\"]", as: .file(.json))?.hasPrefix(
                "it cannot be written as a bare word in a json file") == true)
        #expect(refusal(#"{"a": "{{v}}"}"#, "a\u{1B}[31m", as: .file(.json)) == "it contains the control character ESC (at character 2)")
        #expect(refusal(#"{"a": "{{v}}"}"#, "\u{0}", as: .file(.json)) == "it contains the control character NUL (at character 1)")
    }

    @Test("YAML: double-quoted escapes, '' in single quotes, comments one line, plain scalars simple words")
    func yaml() throws {
        #expect(try encoded("a: \"{{v}}\"\n", "x\"\ny: z", as: .file(.yaml)) == "a: \"x\\\"\\ny: z\"\n")
        #expect(try encoded("a: '{{v}}'\n", "it's", as: .file(.yaml)) == "a: 'it''s'\n")
        #expect(try encoded("- {{v}}\n", "registry.k8s.io/pause:3.9", as: .file(.yaml)) == "- registry.k8s.io/pause:3.9\n")
        #expect(try encoded("# for {{v}}: it's\nk: \"{{v}}\"\n", "node-1", as: .file(.yaml)) == "# for node-1: it's\nk: \"node-1\"\n")
        #expect(refusal("# for {{v}}\n", "x\nanonymous-auth: true", as: .file(.yaml))?.hasPrefix("it contains a line break") == true)
        #expect(refusal("k: {{v}}\n", "x\nanonymous-auth: true", as: .file(.yaml))?.hasPrefix("it contains a line break") == true)
        #expect(refusal("k: {{v}}\n", "a: b", as: .file(.yaml))?.hasPrefix("it cannot be written as a bare word") == true)
        #expect(refusal("k: {{v}}\n", "x:", as: .file(.yaml))?.hasPrefix("it cannot be written as a bare word") == true)
        #expect(refusal("k: '{{v}}'\n", "a\u{2028}b", as: .file(.yaml))?.contains("line separator") == true)
        // An apostrophe inside a plain scalar does not open a quote: the next value is still bare.
        #expect(refusal("k: don't {{v}}\n", "a b", as: .file(.yaml))?.hasPrefix("it cannot be written as a bare word") == true)
    }

    @Test("JSON inside a YAML block scalar is written with escapes both read the same way")
    func jsonInsideYAML() throws {
        let source = "data:\n  net-conf.json: |\n    {\n      \"Network\": \"{{v}}\"\n    }\n"
        #expect(try encoded(source, "a\"b\nc", as: .file(.yaml)) == "data:\n  net-conf.json: |\n    {\n      \"Network\": \"a\\\"b\\nc\"\n    }\n")
    }

    @Test("TOML: basic strings escaped, literal strings without quotes or breaks, bare values plain")
    func toml() throws {
        #expect(try encoded("[plugins.\"io.cri\"]\n  image = \"{{v}}\"\n", "a\"\n[x]", as: .file(.toml)) == "[plugins.\"io.cri\"]\n  image = \"a\\\"\\n[x]\"\n")
        #expect(try encoded("flag = {{v}}\n", .bool(true), as: .file(.toml)) == "flag = true\n")
        #expect(try encoded("s = \"\"\"\n{{v}}\n\"\"\"\n", "a\"\"\"b", as: .file(.toml)) == "s = \"\"\"\na\\\"\\\"\\\"b\n\"\"\"\n")
        #expect(refusal("s = '{{v}}'\n", "it's", as: .file(.toml))?.hasPrefix("it contains a single quote") == true)
        #expect(refusal("# {{v}}\n", "x\ny = 1", as: .file(.toml))?.hasPrefix("it contains a line break") == true)
    }

    @Test("properties: escaped values, simple keys, no spaces at the ends (ZooKeeper trims)")
    func properties() throws {
        #expect(try encoded("dataDir={{v}}\n", "/a\\b\nserver.9=x:1", as: .file(.properties)) == "dataDir=/a\\\\b\\nserver.9=x:1\n")
        #expect(try encoded("server.{{v}}=x\n", "3", as: .file(.properties)) == "server.3=x\n")
        #expect(try encoded("k = {{v}}\n", "é", as: .file(.properties)) == "k = \\u00E9\n")
        #expect(
            refusal("k={{v}}\n", " x", as: .file(.properties))
                == "it starts or ends with a space, which the reader of this file drops (ZooKeeper trims its properties)")
        #expect(refusal("server.{{v}}=x\n", "1=evil", as: .file(.properties))?.hasPrefix("it cannot be written as a bare word") == true)
    }

    @Test("env: double quotes with \\ \" $ ` escaped, one line; bare words plain")
    func env() throws {
        #expect(try encoded("A=\"{{v}}\"\n", "$(id) `id` \"x\" \\", as: .file(.env)) == "A=\"\\$(id) \\`id\\` \\\"x\\\" \\\\\"\n")
        #expect(try encoded("A={{v}}\n", "10.0.0.1:2181,10.0.0.2:2181", as: .file(.env)) == "A=10.0.0.1:2181,10.0.0.2:2181\n")
        #expect(refusal("A=\"{{v}}\"\n", "x\nB=1", as: .file(.env))?.hasPrefix("it contains a line break") == true)
        #expect(refusal("A={{v}}\n", "x;id", as: .file(.env))?.hasPrefix("it cannot be written as a bare word") == true)
        #expect(refusal("A='{{v}}'\n", "it's", as: .file(.env))?.hasPrefix("it contains a single quote") == true)
        // Outside an assignment, sh would run it: even a plain word is refused there.
        #expect(refusal("A=1\n{{v}}\n", "reboot", as: .file(.env)) == "the template puts it where sh reads a command, not an assignment's value")
        #expect(refusal("A=1 \"{{v}}\"\n", "reboot", as: .file(.env)) == "the template puts it where sh reads a command, not an assignment's value")
        #expect(try encoded("# {{v}}\nexport A=\"x{{v}}\" B={{v}}\n", "y", as: .file(.env)) == "# y\nexport A=\"xy\" B=y\n")
    }

    @Test("HAProxy: double quotes with \\ \" $ escaped; no %, which log-format arguments read as directives")
    func haproxy() throws {
        #expect(try encoded("  hdr X \"Bearer {{v}}\"\n", "a\"b$c\\d#e", as: .file(.haproxy)) == "  hdr X \"Bearer a\\\"b\\$c\\\\d#e\"\n")
        #expect(
            refusal("  hdr X \"{{v}}\"\n", "%[src]", as: .file(.haproxy)) == "it contains '%', which HAProxy reads as a log-format directive in many places")
        #expect(refusal("  server {{v}} 10.0.0.1:80\n", "a b", as: .file(.haproxy))?.hasPrefix("it cannot be written as a bare word") == true)
        #expect(refusal("# {{v}}\n", "x\n  bind *:2375", as: .file(.haproxy))?.hasPrefix("it contains a line break") == true)
    }

    @Test("systemd: % doubled; quotes, backslashes, line breaks refused")
    func systemd() throws {
        #expect(try encoded("[Unit]\nDescription=photon ({{v}})\n", "100%", as: .file(.systemd)) == "[Unit]\nDescription=photon (100%%)\n")
        #expect(refusal("[Service]\nExecStart=/bin/x {{v}}\n", "a\\", as: .file(.systemd))?.hasPrefix("it contains a backslash") == true)
        #expect(refusal("[Unit]\nDescription={{v}}\n", "x\nExecStartPre=/bin/id", as: .file(.systemd))?.hasPrefix("it contains a line break") == true)
    }

    @Test("text files take no line breaks; multiline takes them but no other controls")
    func text() throws {
        #expect(try encoded("{{v}}\n", "a b ' \" $", as: .file(.text)) == "a b ' \" $\n")
        #expect(refusal("{{v}}\n", "a\nb", as: .file(.text))?.hasPrefix("it contains a line break") == true)
        #expect(try encoded("{{v}}", "-----BEGIN-----\nabc\n", as: .file(.multiline)) == "-----BEGIN-----\nabc\n")
        #expect(refusal("{{v}}", "a\rb", as: .file(.multiline)) == "it contains the control character CR (carriage return) (at character 2)")
    }

    @Test("a backslash right before a tag would escape the value's first character: refused")
    func afterEscape() {
        #expect(refusal(#"{"a": "\{{v}}"}"#, "\"", as: .file(.json))?.hasPrefix("the template puts a backslash right before it") == true)
    }

    @Test("arguments: whole values, but not one that starts an argument with '-', and never a secret")
    func arguments() throws {
        #expect(try encoded("--name={{v}}", "-x", as: .argument(isCommandName: false)) == "--name=-x")
        #expect(try encoded("{{v}}", "a\nb 'c' $(d)", as: .argument(isCommandName: false)) == "a\nb 'c' $(d)")
        #expect(
            refusal("{{v}}", "--config=/etc/passwd", as: .argument(isCommandName: false)) == "it starts with '-', so the command would read it as an option")
        #expect(refusal("{{v}}", .sensitive("s3cr3t"), as: .argument(isCommandName: false))?.hasPrefix("it is a secret") == true)
        #expect(refusal("{{v}}", .sensitive("tool"), as: .argument(isCommandName: true)) == "it is a secret, and a secret never names a command")
        #expect(refusal("{{v}}", "a\u{0}b", as: .argument(isCommandName: false)) == "it contains the control character NUL (at character 2)")
    }

    @Test("paths: absolute and normalised after rendering, no secret, at the value's origin")
    func paths() throws {
        let origins = ValueOrigins(["settings.dir": Location(file: "bp.yaml", line: 9, column: 12)])
        func path(_ value: TemplateValue) throws(DiagnosticsError) -> String {
            try compile("{{settings.dir}}/myid").render(
                ["settings": ["dir": value]], options: RenderOptions(target: .path, origins: origins, subject: "the path")
            ).text
        }
        #expect(try path("/var/lib/zookeeper") == "/var/lib/zookeeper/myid")
        for bad: TemplateValue in ["/", "/a/../b", "relative", "/a/./b"] {
            do {
                _ = try path(bad)
                Issue.record("\(bad) was accepted")
            } catch {
                #expect(error.diagnostics.first?.location == Location(file: "bp.yaml", line: 9, column: 12))
                #expect(error.diagnostics.first?.message.hasPrefix("settings.dir makes the path") == true)
            }
        }
        #expect(throws: DiagnosticsError.self) { try path(.sensitive("/secret")) }
        #expect(throws: DiagnosticsError.self) { try compile("/etc/{{x}}").render(["x": "a\nb"], options: RenderOptions(target: .path)) }
    }

    @Test("a refused value is reported where it came from: a list item at its own position, with the tag in the help")
    func origins() {
        let origins = ValueOrigins(["settings.errors.1": Location(file: "bp.yaml", line: 12, column: 11)])
        do {
            _ = try compile("errors:\n{{#settings.errors}}\n  - \"{{.}}\"\n{{/settings.errors}}\n", name: "init.yaml")
                .render(
                    ["settings": ["errors": ["Swap", "a\u{7}"]]],
                    options: RenderOptions(target: .file(.yaml), origins: origins, subject: "template init.yaml (yaml)"))
            Issue.record("rendered a BEL")
        } catch {
            let diagnostic = error.diagnostics.first
            #expect(diagnostic?.location == Location(file: "bp.yaml", line: 12, column: 11))
            #expect(
                diagnostic?.message
                    == "settings.errors.1 cannot be written into template init.yaml (yaml): it contains the control character BEL (at character 2)")
            #expect(diagnostic?.help?.hasSuffix("the template writes it at init.yaml.mustache:3:6") == true)
        }
    }

    @Test("partials render in the including template's format")
    func partials() throws {
        #expect(try encoded("a: \"{{> p}}\"\n", "x\"y", as: .file(.yaml), partials: ["p": "<{{v}}>"]) == "a: \"<x\\\"y>\"\n")
        #expect(throws: DiagnosticsError.self) { try encoded("A=\"{{> p}}\"\n", "a\nb", as: .file(.env), partials: ["p": "{{v}}"]) }
    }

    @Test("formats from names: extensions, zoo.cfg and haproxy.cfg; anything else is text")
    func inferred() {
        let cases: [(String, TemplateFormat)] = [
            ("daemon.json", .json), ("kubeadm-init.yaml", .yaml), ("x.yml", .yaml), ("containerd.toml", .toml), ("zoo.cfg", .properties),
            ("haproxy.cfg", .haproxy), ("other.cfg", .text), ("a.properties", .properties), ("zookeeper.service", .systemd),
            ("x.env", .env), ("etcd", .text), ("modules", .text), ("etcd-ca.crt", .multiline), ("etcd-member.key", .multiline),
        ]
        for (name, format) in cases { #expect(TemplateFormat.inferred(fromTemplateName: name) == format, "\(name)") }
    }
}

@Suite("Render budget")
struct RenderBudgetTests {
    @Test("partials that fan out four ways per level stop at the budget with the tag's position, at once")
    func fanOut() throws {
        // 2 KB of kind: p0 includes p1 four times, p1 includes p2 four times, … 4^15 renders of p15 otherwise.
        var partials: [String: String] = [:]
        for level in 0..<15 { partials["p\(level)"] = String(repeating: "{{> p\(level + 1)}}", count: 4) }
        partials["p15"] = "x"
        let clock = ContinuousClock(), start = clock.now
        do {
            _ = try compile("{{> p0}}").render([:], partials: library(partials), options: RenderOptions(subject: "template bomb"))
            Issue.record("rendered the bomb")
        } catch {
            let diagnostic = try #require(error.diagnostics.first)
            #expect(diagnostic.message == "rendering template bomb takes more than 2000000 steps")
            #expect(diagnostic.location?.file.hasSuffix(".mustache") == true)
        }
        #expect(clock.now - start < .seconds(20))
    }

    @Test("output beyond the budget is refused too")
    func output() {
        let budget = RenderBudget(maxOutputBytes: 1 << 20, maxSteps: 10_000_000)
        let items: [TemplateValue] = Array(repeating: .text(String(repeating: "a", count: 1000)), count: 5000)
        #expect(throws: DiagnosticsError.self) {
            try compile("{{#items}}{{.}}{{/items}}").render(["items": .list(items)], options: RenderOptions(budget: budget))
        }
    }
}
