import Kinds
import PhotonCore
import Testing

// The strict Mustache subset photon renders files and commands with. Where a feature is supported the
// expectations follow the official Mustache spec (github.com/mustache/spec, specs/*.yml); where photon is
// stricter on purpose (a missing name is an error, not an empty string) the strict behaviour is tested.

typealias Location = PhotonCore.SourceLocation

// MARK: Helpers

/// Compiles `source` as `<name>.mustache`, starting at 1:1 unless `origin` says otherwise.
func compile(_ source: String, name: String = "t", origin: Location? = nil) throws(DiagnosticsError) -> Template {
    try Template(source, name: name, origin: origin ?? Location(file: "\(name).mustache", line: 1, column: 1))
}

func library(_ partials: [String: String]) throws(DiagnosticsError) -> PartialLibrary {
    var templates: [String: Template] = [:]
    for (name, source) in partials { templates[name] = try compile(source, name: name) }
    return PartialLibrary(templates)
}

func renderText(_ source: String, _ context: TemplateValue = [:], partials: [String: String] = [:]) throws(DiagnosticsError) -> String {
    try compile(source).render(context, partials: library(partials)).text
}

func rendered(_ source: String, _ context: TemplateValue = [:], partials: [String: String] = [:]) throws(DiagnosticsError) -> RenderedText {
    try compile(source).render(context, partials: library(partials))
}

/// The one diagnostic compiling (then rendering) `source` throws; records an issue when there is none or several.
func failure(
    _ source: String, _ context: TemplateValue = [:], partials: [String: String] = [:], origin: Location? = nil,
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) -> Diagnostic? {
    do {
        let template = try compile(source, origin: origin)
        let result = try template.render(context, partials: library(partials))
        Issue.record("expected an error, rendered \(String(reflecting: result.text))", sourceLocation: sourceLocation)
        return nil
    } catch {
        #expect(error.diagnostics.count == 1, "\(error.diagnostics)", sourceLocation: sourceLocation)
        return error.diagnostics.first
    }
}

/// Checks the message, position and help of a template diagnostic exactly.
func expectDiagnostic(
    _ diagnostic: Diagnostic?, _ message: String, at line: Int, _ column: Int, file: String = "t.mustache",
    help: String? = nil, sourceLocation: Testing.SourceLocation = #_sourceLocation
) {
    guard let diagnostic else {
        Issue.record("no diagnostic; expected \(message)", sourceLocation: sourceLocation)
        return
    }
    #expect(diagnostic.message == message, sourceLocation: sourceLocation)
    #expect(diagnostic.location == Location(file: file, line: line, column: column), "\(diagnostic.message)", sourceLocation: sourceLocation)
    #expect(diagnostic.help == help, sourceLocation: sourceLocation)
}

/// One example from the Mustache spec (or in its style): template, data, partials and the exact output.
struct SpecCase: Sendable, CustomTestStringConvertible {
    var name: String
    var template: String
    var data: TemplateValue = [:]
    var partials: [String: String] = [:]
    var expected: String

    var testDescription: String { name }

    func check(sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        do {
            let output = try renderText(template, data, partials: partials)
            #expect(output == expected, "\(name)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("\(name): \(error)", sourceLocation: sourceLocation)
        }
    }
}

// MARK: Spec tables

/// specs/interpolation.yml, without HTML escaping: photon writes config files and commands, not HTML.
let interpolationSpec: [SpecCase] = [
    SpecCase(name: "No Interpolation", template: "Hello from {Mustache}!\n", expected: "Hello from {Mustache}!\n"),
    SpecCase(name: "Basic Interpolation", template: "Hello, {{subject}}!\n", data: ["subject": "world"], expected: "Hello, world!\n"),
    SpecCase(
        name: "No HTML escaping in {{x}}", template: "These characters are not escaped: {{forbidden}}\n",
        data: ["forbidden": "& \" < > '"], expected: "These characters are not escaped: & \" < > '\n"),
    SpecCase(
        name: "Triple Mustache", template: "These characters are not escaped: {{{forbidden}}}\n",
        data: ["forbidden": "& \" < > '"], expected: "These characters are not escaped: & \" < > '\n"),
    SpecCase(
        name: "Ampersand", template: "These characters are not escaped: {{&forbidden}}\n",
        data: ["forbidden": "& \" < > '"], expected: "These characters are not escaped: & \" < > '\n"),
    SpecCase(
        name: "Basic Integer Interpolation", template: "\"{{mph}} miles an hour!\"", data: ["mph": .number(85)],
        expected: "\"85 miles an hour!\""),
    SpecCase(name: "Booleans are written as true/false", template: "{{yes}} {{no}}", data: ["yes": true, "no": false], expected: "true false"),
    SpecCase(
        name: "Dotted Names - Basic Interpolation", template: "\"{{person.name}}\" == \"{{#person}}{{name}}{{/person}}\"",
        data: ["person": ["name": "Joe"]], expected: "\"Joe\" == \"Joe\""),
    SpecCase(
        name: "Dotted Names - Triple Mustache and Ampersand", template: "{{{person.name}}} {{&person.name}}",
        data: ["person": ["name": "<Joe>"]], expected: "<Joe> <Joe>"),
    SpecCase(
        name: "Dotted Names - Arbitrary Depth", template: "\"{{a.b.c.d.e.name}}\" == \"Phil\"",
        data: ["a": ["b": ["c": ["d": ["e": ["name": "Phil"]]]]]], expected: "\"Phil\" == \"Phil\""),
    SpecCase(
        name: "Dotted Names - Initial Resolution", template: "\"{{#a}}{{b.c.d.e.name}}{{/a}}\" == \"Phil\"",
        data: ["a": ["b": ["c": ["d": ["e": ["name": "Phil"]]]]], "b": ["c": ["d": ["e": ["name": "Wrong"]]]]],
        expected: "\"Phil\" == \"Phil\""),
    SpecCase(name: "Implicit Iterators - Basic Interpolation", template: "Hello, {{.}}!\n", data: "world", expected: "Hello, world!\n"),
    SpecCase(name: "Implicit Iterators - Triple Mustache", template: "{{{.}}} {{&.}}", data: "<&>", expected: "<&> <&>"),
    SpecCase(name: "Interpolation - Surrounding Whitespace", template: "| {{string}} |", data: ["string": "---"], expected: "| --- |"),
    SpecCase(name: "Interpolation - Standalone", template: "  {{string}}\n", data: ["string": "---"], expected: "  ---\n"),
    SpecCase(name: "Triple Mustache - Standalone", template: "  {{{string}}}\n", data: ["string": "---"], expected: "  ---\n"),
    SpecCase(
        name: "Interpolation With Padding", template: "|{{ string }}|{{{ string }}}|{{& string }}|", data: ["string": "---"],
        expected: "|---|---|---|"),
]

/// specs/sections.yml and specs/inverted.yml (strict: every name used exists).
let sectionSpec: [SpecCase] = [
    SpecCase(
        name: "Truthy", template: "\"{{#boolean}}This should be rendered.{{/boolean}}\"", data: ["boolean": true],
        expected: "\"This should be rendered.\""),
    SpecCase(
        name: "Falsey", template: "\"{{#boolean}}This should not be rendered.{{/boolean}}\"", data: ["boolean": false],
        expected: "\"\""),
    SpecCase(
        name: "Context", template: "\"{{#context}}Hi {{name}}.{{/context}}\"", data: ["context": ["name": "Joe"]],
        expected: "\"Hi Joe.\""),
    SpecCase(
        name: "Parent contexts", template: "\"{{#sec}}{{a}}, {{b}}, {{c.d}}{{/sec}}\"",
        data: ["a": "foo", "b": "wrong", "sec": ["b": "bar"], "c": ["d": "baz"]], expected: "\"foo, bar, baz\""),
    SpecCase(name: "Variable test", template: "\"{{#foo}}{{.}} is {{foo}}{{/foo}}\"", data: ["foo": "bar"], expected: "\"bar is bar\""),
    SpecCase(
        name: "List", template: "\"{{#list}}{{item}}{{/list}}\"",
        data: ["list": [["item": "1"], ["item": "2"], ["item": "3"]]], expected: "\"123\""),
    SpecCase(name: "Empty List", template: "\"{{#list}}Yay lists!{{/list}}\"", data: ["list": []], expected: "\"\""),
    SpecCase(name: "Empty text is falsy", template: "[{{#s}}shown{{/s}}]", data: ["s": ""], expected: "[]"),
    SpecCase(name: "Non-empty text is truthy and becomes the context", template: "[{{#s}}<{{.}}>{{/s}}]", data: ["s": "x"], expected: "[<x>]"),
    SpecCase(
        name: "Doubled", template: "{{#bool}}\n* first\n{{/bool}}\n* {{two}}\n{{#bool}}\n* third\n{{/bool}}\n",
        data: ["bool": true, "two": "second"], expected: "* first\n* second\n* third\n"),
    SpecCase(
        name: "Nested (Truthy)", template: "| A {{#bool}}B {{#bool}}C{{/bool}} D{{/bool}} E |", data: ["bool": true],
        expected: "| A B C D E |"),
    SpecCase(
        name: "Nested (Falsey)", template: "| A {{#bool}}B {{#bool}}C{{/bool}} D{{/bool}} E |", data: ["bool": false],
        expected: "| A  E |"),
    SpecCase(
        name: "Implicit Iterator - String", template: "\"{{#list}}({{.}}){{/list}}\"", data: ["list": ["a", "b", "c", "d", "e"]],
        expected: "\"(a)(b)(c)(d)(e)\""),
    SpecCase(
        name: "Implicit Iterator - Integer", template: "\"{{#list}}({{.}}){{/list}}\"",
        data: ["list": [.number(1), .number(2), .number(3)]], expected: "\"(1)(2)(3)\""),
    SpecCase(
        name: "Implicit Iterator - Array", template: "\"{{#list}}({{#.}}{{.}}{{/.}}){{/list}}\"",
        data: ["list": [["1", "2", "3"], ["a", "b", "c"]]], expected: "\"(123)(abc)\""),
    SpecCase(
        name: "Dotted Names - Truthy", template: "\"{{#a.b.c}}Here{{/a.b.c}}\" == \"Here\"", data: ["a": ["b": ["c": true]]],
        expected: "\"Here\" == \"Here\""),
    SpecCase(
        name: "Dotted Names - Falsey", template: "\"{{#a.b.c}}Here{{/a.b.c}}\" == \"\"", data: ["a": ["b": ["c": false]]],
        expected: "\"\" == \"\""),
    SpecCase(
        name: "Surrounding Whitespace", template: " | {{#boolean}}\t|\t{{/boolean}} | \n", data: ["boolean": true],
        expected: " | \t|\t | \n"),
    SpecCase(
        name: "Internal Whitespace", template: " | {{#boolean}} {{! Important Whitespace }}\n {{/boolean}} | \n",
        data: ["boolean": true], expected: " |  \n  | \n"),
    SpecCase(
        name: "Indented Inline Sections", template: " {{#boolean}}YES{{/boolean}}\n {{#boolean}}GOOD{{/boolean}}\n",
        data: ["boolean": true], expected: " YES\n GOOD\n"),
    SpecCase(name: "Padding", template: "|{{# boolean }}={{/ boolean }}|", data: ["boolean": true], expected: "|=|"),
    SpecCase(
        name: "Inverted - Falsey", template: "\"{{^boolean}}This should be rendered.{{/boolean}}\"", data: ["boolean": false],
        expected: "\"This should be rendered.\""),
    SpecCase(
        name: "Inverted - Truthy", template: "\"{{^boolean}}This should not be rendered.{{/boolean}}\"", data: ["boolean": true],
        expected: "\"\""),
    SpecCase(
        name: "Inverted - Context", template: "\"{{^context}}Hi {{name}}.{{/context}}\"", data: ["context": ["name": "Joe"]],
        expected: "\"\""),
    SpecCase(name: "Inverted - List", template: "\"{{^list}}{{n}}{{/list}}\"", data: ["list": [["n": "1"], ["n": "2"]]], expected: "\"\""),
    SpecCase(name: "Inverted - Empty List", template: "\"{{^list}}Yay lists!{{/list}}\"", data: ["list": []], expected: "\"Yay lists!\""),
    SpecCase(name: "Inverted - Empty text", template: "[{{^s}}empty{{/s}}]", data: ["s": ""], expected: "[empty]"),
    SpecCase(
        name: "Inverted - Doubled", template: "{{^bool}}\n* first\n{{/bool}}\n* {{two}}\n{{^bool}}\n* third\n{{/bool}}\n",
        data: ["bool": false, "two": "second"], expected: "* first\n* second\n* third\n"),
    SpecCase(
        name: "Inverted - Nested (Falsey)", template: "| A {{^bool}}B {{^bool}}C{{/bool}} D{{/bool}} E |", data: ["bool": false],
        expected: "| A B C D E |"),
    SpecCase(
        name: "Inverted inside a list section", template: "{{#items}}{{name}}{{^last}}, {{/last}}{{/items}}",
        data: ["items": [["name": "a", "last": false], ["name": "b", "last": false], ["name": "c", "last": true]]],
        expected: "a, b, c"),
]

/// Standalone lines (sections.yml, inverted.yml, comments.yml, partials.yml, delimiters.yml).
let standaloneSpec: [SpecCase] = [
    SpecCase(
        name: "Section - Standalone Lines", template: "| This Is\n{{#boolean}}\n|\n{{/boolean}}\n| A Line\n",
        data: ["boolean": true], expected: "| This Is\n|\n| A Line\n"),
    SpecCase(
        name: "Section - Indented Standalone Lines", template: "| This Is\n  {{#boolean}}\n|\n  {{/boolean}}\n| A Line\n",
        data: ["boolean": true], expected: "| This Is\n|\n| A Line\n"),
    SpecCase(
        name: "Section - Tabs and spaces around a standalone tag", template: "a\n \t{{#boolean}}\t \nb\n\t{{/boolean}} \nc\n",
        data: ["boolean": true], expected: "a\nb\nc\n"),
    SpecCase(
        name: "Section - Standalone Line Endings", template: "|\r\n{{#boolean}}\r\n{{/boolean}}\r\n|", data: ["boolean": true],
        expected: "|\r\n|"),
    SpecCase(
        name: "Section - Standalone Without Previous Line", template: "  {{#boolean}}\n#{{/boolean}}\n/", data: ["boolean": true],
        expected: "#\n/"),
    SpecCase(
        name: "Section - Standalone Without Newline", template: "#{{#boolean}}\n/\n  {{/boolean}}", data: ["boolean": true],
        expected: "#\n/\n"),
    SpecCase(
        name: "Inverted - Standalone Lines", template: "| This Is\n{{^boolean}}\n|\n{{/boolean}}\n| A Line\n",
        data: ["boolean": false], expected: "| This Is\n|\n| A Line\n"),
    SpecCase(
        name: "Inverted - Standalone Indented Lines", template: "| This Is\n  {{^boolean}}\n|\n  {{/boolean}}\n| A Line\n",
        data: ["boolean": false], expected: "| This Is\n|\n| A Line\n"),
    SpecCase(
        name: "Inverted - Standalone Line Endings", template: "|\r\n{{^boolean}}\r\n{{/boolean}}\r\n|", data: ["boolean": false],
        expected: "|\r\n|"),
    SpecCase(
        name: "Inverted - Standalone Without Previous Line", template: "  {{^boolean}}\n^{{/boolean}}\n/", data: ["boolean": false],
        expected: "^\n/"),
    SpecCase(
        name: "Inverted - Standalone Without Newline", template: "^{{^boolean}}\n/\n  {{/boolean}}", data: ["boolean": false],
        expected: "^\n/\n"),
    SpecCase(name: "Comment - Standalone", template: "Begin.\n{{! Comment Block! }}\nEnd.\n", expected: "Begin.\nEnd.\n"),
    SpecCase(name: "Comment - Indented Standalone", template: "Begin.\n  {{! Indented Comment Block! }}\nEnd.\n", expected: "Begin.\nEnd.\n"),
    SpecCase(name: "Comment - Standalone Line Endings", template: "|\r\n{{! Standalone Comment }}\r\n|", expected: "|\r\n|"),
    SpecCase(name: "Comment - Standalone Without Previous Line", template: "  {{! I'm Still Standalone }}\n!", expected: "!"),
    SpecCase(name: "Comment - Standalone Without Newline", template: "!\n  {{! I'm Still Standalone }}", expected: "!\n"),
    SpecCase(
        name: "Comment - Multiline Standalone", template: "Begin.\n{{!\nSomething's going on here...\n}}\nEnd.\n",
        expected: "Begin.\nEnd.\n"),
    SpecCase(
        name: "Comment - Indented Multiline Standalone", template: "Begin.\n  {{!\n    Something's going on here...\n  }}\nEnd.\n",
        expected: "Begin.\nEnd.\n"),
    SpecCase(name: "Comment - Indented Inline", template: "  12 {{! 34 }}\n", expected: "  12 \n"),
    SpecCase(name: "Partial - Standalone Line Endings", template: "|\r\n{{>partial}}\r\n|", partials: ["partial": ">"], expected: "|\r\n>|"),
    SpecCase(
        name: "Partial - Standalone Without Previous Line", template: "  {{>partial}}\n>", partials: ["partial": ">\n>"],
        expected: "  >\n  >>"),
    SpecCase(
        name: "Partial - Standalone Without Newline", template: ">\n  {{>partial}}", partials: ["partial": ">\n>"],
        expected: ">\n  >\n  >"),
    SpecCase(name: "Delimiters - Standalone Tag", template: "Begin.\n{{=@ @=}}\nEnd.\n", expected: "Begin.\nEnd.\n"),
    SpecCase(name: "Delimiters - Indented Standalone Tag", template: "Begin.\n  {{=@ @=}}\nEnd.\n", expected: "Begin.\nEnd.\n"),
    SpecCase(name: "Delimiters - Standalone Line Endings", template: "|\r\n{{= @ @ =}}\r\n|", expected: "|\r\n|"),
    SpecCase(name: "Delimiters - Standalone Without Previous Line", template: "  {{=@ @=}}\n=", expected: "="),
    SpecCase(name: "Delimiters - Standalone Without Newline", template: "=\n  {{=@ @=}}", expected: "=\n"),
    SpecCase(name: "Delimiters - Outlying Whitespace (Inline)", template: " | {{=@ @=}}\n", expected: " | \n"),
    SpecCase(
        name: "Two tags on a line are not standalone", template: "a\n{{#boolean}}{{/boolean}}\nb", data: ["boolean": true],
        expected: "a\n\nb"),
]

/// specs/delimiters.yml.
let delimiterSpec: [SpecCase] = [
    SpecCase(name: "Pair Behavior", template: "{{=<% %>=}}(<%text%>)", data: ["text": "Hey!"], expected: "(Hey!)"),
    SpecCase(name: "Special Characters", template: "({{=[ ]=}}[text])", data: ["text": "It worked!"], expected: "(It worked!)"),
    SpecCase(
        name: "Sections", template: "[\n{{#section}}\n  {{data}}\n  |data|\n{{/section}}\n\n{{= | | =}}\n|#section|\n  {{data}}\n  |data|\n|/section|\n]\n",
        data: ["section": true, "data": "I got interpolated."],
        expected: "[\n  I got interpolated.\n  |data|\n\n  {{data}}\n  I got interpolated.\n]\n"),
    SpecCase(
        name: "Inverted Sections",
        template: "[\n{{^section}}\n  {{data}}\n  |data|\n{{/section}}\n\n{{= | | =}}\n|^section|\n  {{data}}\n  |data|\n|/section|\n]\n",
        data: ["section": false, "data": "I got interpolated."],
        expected: "[\n  I got interpolated.\n  |data|\n\n  {{data}}\n  I got interpolated.\n]\n"),
    SpecCase(
        name: "Partial Inheritence", template: "[ {{>include}} ]\n{{= | | =}}\n[ |>include| ]\n", data: ["value": "yes"],
        partials: ["include": ".{{value}}."], expected: "[ .yes. ]\n[ .yes. ]\n"),
    SpecCase(
        name: "Post-Partial Behavior", template: "[ {{>include}} ]\n[ .{{value}}.  .|value|. ]\n", data: ["value": "yes"],
        partials: ["include": ".{{value}}.  {{= | | =}}.|value|."], expected: "[ .yes.  .yes. ]\n[ .yes.  .|value|. ]\n"),
    SpecCase(name: "Surrounding Whitespace", template: "| {{=@ @=}} |", expected: "|  |"),
    SpecCase(name: "Pair with Padding", template: "|{{= @   @ =}}|", expected: "||"),
    SpecCase(
        name: "Change and change back", template: "{{=<% %>=}}<%a%> {{b}} <%={{ }}=%>{{a}} <%b%>", data: ["a": "1"],
        expected: "1 {{b}} 1 <%b%>"),
    SpecCase(
        name: "Triple mustache after changing back", template: "{{=<% %>=}}<%&a%><%={{ }}=%>{{{a}}}", data: ["a": "<>"],
        expected: "<><>"),
]

// MARK: Tests

@Suite("Template engine")
struct TemplateTests {

    // MARK: Spec tables

    @Test("interpolation (specs/interpolation.yml, no HTML escaping)", arguments: interpolationSpec)
    func interpolation(_ example: SpecCase) { example.check() }

    @Test("sections and inverted sections (specs/sections.yml, specs/inverted.yml)", arguments: sectionSpec)
    func sections(_ example: SpecCase) { example.check() }

    @Test("standalone lines disappear (sections, inverted, comments, partials, delimiters)", arguments: standaloneSpec)
    func standalone(_ example: SpecCase) { example.check() }

    @Test("delimiter changes (specs/delimiters.yml)", arguments: delimiterSpec)
    func delimiters(_ example: SpecCase) { example.check() }

    // MARK: Interpolation

    @Test("no HTML escaping at all, in every interpolation form")
    func noEscaping() throws {
        let context: TemplateValue = ["x": "<a href=\"x\">&amp; 'q'</a>"]
        #expect(
            try renderText("{{x}}|{{{x}}}|{{&x}}|{{ x }}|{{& x }}", context)
                == "<a href=\"x\">&amp; 'q'</a>|<a href=\"x\">&amp; 'q'</a>|<a href=\"x\">&amp; 'q'</a>|<a href=\"x\">&amp; 'q'</a>|<a href=\"x\">&amp; 'q'</a>"
        )
    }

    @Test("values are inserted verbatim: newlines, mustaches and unicode in values are not interpreted")
    func valuesAreVerbatim() throws {
        #expect(try renderText("[{{x}}]", ["x": "{{y}}\nline 2 ✓ 日本"]) == "[{{y}}\nline 2 ✓ 日本]")
    }

    @Test("the context stack: names fall back to outer contexts; inner names shadow outer ones")
    func contextStack() throws {
        let context: TemplateValue = [
            "name": "outer", "cluster": ["name": "edge"],
            "machines": [["name": "m1"], ["hostname": "h2"]],
        ]
        #expect(try renderText("{{#machines}}{{name}}@{{cluster.name}};{{/machines}}", context) == "m1@edge;outer@edge;")
        // A stack given by the caller: the last context is the innermost.
        let template = try compile("{{a}} {{b}}")
        #expect(try template.render([["a": "1", "b": "2"], ["b": "3"]]).text == "1 3")
    }

    @Test("Deeply Nested Contexts (specs/sections.yml)")
    func deeplyNestedContexts() throws {
        let template = """
            {{#a}}
            {{one}}
            {{#b}}
            {{one}}{{two}}{{one}}
            {{#c}}
            {{one}}{{two}}{{three}}{{two}}{{one}}
            {{#d}}
            {{one}}{{two}}{{three}}{{four}}{{three}}{{two}}{{one}}
            {{#five}}
            {{one}}{{two}}{{three}}{{four}}{{five}}{{four}}{{three}}{{two}}{{one}}
            {{one}}{{two}}{{three}}{{four}}{{.}}6{{.}}{{four}}{{three}}{{two}}{{one}}
            {{one}}{{two}}{{three}}{{four}}{{five}}{{four}}{{three}}{{two}}{{one}}
            {{/five}}
            {{one}}{{two}}{{three}}{{four}}{{three}}{{two}}{{one}}
            {{/d}}
            {{one}}{{two}}{{three}}{{two}}{{one}}
            {{/c}}
            {{one}}{{two}}{{one}}
            {{/b}}
            {{one}}
            {{/a}}

            """
        let data: TemplateValue = [
            "a": ["one": .number(1)], "b": ["two": .number(2)],
            "c": ["three": .number(3), "d": ["four": .number(4), "five": .number(5)]],
        ]
        #expect(
            try renderText(template, data)
                == "1\n121\n12321\n1234321\n123454321\n12345654321\n123454321\n1234321\n12321\n121\n1\n")
    }

    @Test("sections over a mapping push it; over a list render once per item; over true keep the context")
    func sectionShapes() throws {
        let context: TemplateValue = [
            "role": ["name": "workers", "count": .number(2)],
            "roles": [["name": "managers"], ["name": "workers"]],
            "enabled": true, "name": "top",
        ]
        #expect(try renderText("{{#role}}{{name}}×{{count}}{{/role}}", context) == "workers×2")
        #expect(try renderText("{{#roles}}[{{name}}]{{/roles}}", context) == "[managers][workers]")
        #expect(try renderText("{{#enabled}}{{name}}{{/enabled}}", context) == "top")
    }

    // MARK: Comments

    @Test("comments render nothing, inline and across lines")
    func comments() throws {
        #expect(try renderText("12345{{! Comment Block! }}67890") == "1234567890")
        #expect(try renderText("12345{{!\n  This is a\n  multi-line comment...\n}}67890\n") == "1234567890\n")
        #expect(try renderText("12345 {{! Comment Block! }} 67890") == "12345  67890")
        // A comment may hold anything, even what looks like tags or a missing name.
        #expect(try renderText("a{{! {{#x {{nope }}b") == "ab")
    }

    // MARK: Partials

    @Test("partials: basic, context, nested and recursive (specs/partials.yml)")
    func partials() throws {
        #expect(try renderText("\"{{>text}}\"", partials: ["text": "from partial"]) == "\"from partial\"")
        #expect(try renderText("\"{{>partial}}\"", ["text": "content"], partials: ["partial": "*{{text}}*"]) == "\"*content*\"")
        #expect(
            try renderText("{{>outer}}", ["a": "hello", "b": "world"], partials: ["outer": "*{{a}} {{>inner}}*", "inner": "{{b}}!"])
                == "*hello world!*")
        let tree: TemplateValue = ["content": "X", "nodes": [["content": "Y", "nodes": []]]]
        #expect(try renderText("{{>node}}", tree, partials: ["node": "{{content}}<{{#nodes}}{{>node}}{{/nodes}}>"]) == "X<Y<>>")
        #expect(try renderText("| {{>partial}} |", partials: ["partial": "\t|\t"]) == "| \t|\t |")
        #expect(try renderText("  {{data}}  {{> partial}}\n", ["data": "|"], partials: ["partial": ">\n>"]) == "  |  >\n>\n")
        #expect(try renderText("|{{> partial }}|", ["boolean": true], partials: ["partial": "[]"]) == "|[]|")
    }

    @Test("an indented standalone partial indents every line it renders, text and values alike (Standalone Indentation)")
    func standalonePartialIndentation() throws {
        // specs/partials.yml "Standalone Indentation": each line of the partial is indented, the value's own
        // inner newline is not.
        #expect(
            try renderText("\\\n {{>partial}}\n/\n", ["content": "<\n->"], partials: ["partial": "|\n{{{content}}}\n|\n"])
                == "\\\n |\n <\n->\n |\n/\n")
        #expect(
            try renderText("items:\n  {{>item}}\n", ["name": "web"], partials: ["item": "{{name}}: true\n"])
                == "items:\n  web: true\n")
    }

    @Test("an indented standalone partial indents each of its text lines, also inside sections")
    func standalonePartialIndentationOfText() throws {
        let output = try renderText(
            "services:\n  {{>service}}\nend\n", ["ports": ["80", "443"]],
            partials: ["service": "web:\n  ports:\n{{#ports}}\n    - \"{{.}}\"\n{{/ports}}\n"])
        #expect(output == "services:\n  web:\n    ports:\n      - \"80\"\n      - \"443\"\nend\n")
    }

    @Test("partials that include each other forever fail with an error, not a crash")
    func partialRecursionLimit() throws {
        let diagnostic = failure("start {{>loop}}", partials: ["loop": "x{{>loop}}"])
        expectDiagnostic(
            diagnostic, "partials include each other more than 16 levels deep", at: 1, 2, file: "loop.mustache",
            help: "a partial probably includes itself")
        let mutual = failure("{{>a}}", partials: ["a": "{{>b}}", "b": "{{>a}}"])
        #expect(mutual?.message == "partials include each other more than 16 levels deep")
        // 16 levels are fine.
        var partials: [String: String] = [:]
        for level in 0..<16 { partials["p\(level)"] = level == 15 ? "bottom" : "{{>p\(level + 1)}}" }
        #expect(try renderText("{{>p0}}", partials: partials) == "bottom")
    }

    @Test("a partial that does not exist is an error at its tag, suggesting the closest partial")
    func missingPartial() {
        let diagnostic = failure("a\n  {{>etcd-endpoint}}\n", partials: ["etcd-endpoints": "x"])
        expectDiagnostic(diagnostic, "partial 'etcd-endpoint' does not exist", at: 2, 3, help: "did you mean 'etcd-endpoints'?")
        expectDiagnostic(failure("{{>zzz}}", partials: ["etcd": "x"]), "partial 'zzz' does not exist", at: 1, 1)
    }

    // MARK: Delimiters

    @Test("a literal {{ through a delimiter change: Go templates for docker --format")
    func goTemplates() throws {
        let source = "{{=<% %>=}}docker node inspect --format '{{.Status.State}} {{.Spec.Role}}' <%machine.hostname%>"
        let template = try compile(source)
        #expect(
            try template.render(["machine": ["hostname": "edge-1"]]).text
                == "docker node inspect --format '{{.Status.State}} {{.Spec.Role}}' edge-1")
        #expect(try compile("{{=<% %>=}}{{json .}}").constantText == "{{json .}}")
        // And back again for the rest of the template.
        #expect(try renderText("{{=<% %>=}}{{ .ID }}<%={{ }}=%> {{id}}", ["id": "7"]) == "{{ .ID }} 7")
    }

    // MARK: Strictness

    @Test("a missing name is an error at its line and column, suggesting the closest name")
    func missingName() {
        expectDiagnostic(
            failure("line one\n  value: {{adress}}\n", ["address": "10.0.0.1"]), "'adress' does not exist", at: 2, 10,
            help: "did you mean 'address'?")
        expectDiagnostic(failure("{{zzz}}", ["address": "10.0.0.1"]), "'zzz' does not exist", at: 1, 1)
        // Inside a section the tag's own position is reported, and names of every context are suggested.
        expectDiagnostic(
            failure("{{#items}}\n  - {{nmae}}\n{{/items}}\n", ["items": [["name": "a"]]]), "'nmae' does not exist", at: 2, 5,
            help: "did you mean 'name'?")
        // A missing section name is an error too (the spec renders nothing).
        expectDiagnostic(failure("[{{#missing}}x{{/missing}}]"), "'missing' does not exist", at: 1, 2)
        expectDiagnostic(failure("[{{^missing}}x{{/missing}}]"), "'missing' does not exist", at: 1, 2)
    }

    @Test("positions count from the template's origin inside kind.yaml")
    func originOffset() {
        let origin = Location(file: "templates/swarm/kind.yaml", line: 40, column: 23)
        // On the origin's line columns are shifted; on later lines they start at 1.
        expectDiagnostic(
            failure("echo {{machine.adress}}", ["machine": ["address": "a"]], origin: origin),
            "'machine.adress' does not exist: 'machine' has no 'adress'", at: 40, 28, file: "templates/swarm/kind.yaml",
            help: "did you mean 'address'?")
        expectDiagnostic(failure("a\nbb {{nope}}", origin: origin), "'nope' does not exist", at: 41, 4, file: "templates/swarm/kind.yaml")
        expectDiagnostic(
            failure("x {{#a}}", ["a": true], origin: origin), "section 'a' is never closed", at: 40, 25,
            file: "templates/swarm/kind.yaml", help: "add {{/a}}")
    }

    @Test("a missing dotted member names the part that is missing and suggests the closest member")
    func missingMember() {
        let context: TemplateValue = ["machine": ["address": "10.0.0.5", "hostname": "m1"], "a": ["b": ["x": "1", "y": "2"]]]
        expectDiagnostic(
            failure("{{machine.hostnmae}}", context), "'machine.hostnmae' does not exist: 'machine' has no 'hostnmae'",
            at: 1, 1, help: "did you mean 'hostname'?")
        expectDiagnostic(
            failure("  {{a.b.zzz}}", context), "'a.b.zzz' does not exist: 'a.b' has no 'zzz'", at: 1, 3,
            help: "valid names here: 'x', 'y'")
        // Going into a text value: there are no members to suggest.
        expectDiagnostic(
            failure("{{machine.address.first}}", context),
            "'machine.address.first' does not exist: 'machine.address' has no 'first'", at: 1, 1)
        // Dotted names are never single keys (specs/interpolation.yml).
        expectDiagnostic(failure("{{a.b}}", ["a.b": "c"]), "'a.b' does not exist", at: 1, 1)
    }

    @Test("writing a list or a mapping as text is an error")
    func shapesAsText() {
        let context: TemplateValue = ["list": ["a"], "map": ["k": "v"]]
        expectDiagnostic(
            failure("x {{list}}", context), "a list cannot be written as text", at: 1, 3,
            help: "use a section ({{#name}}…{{/name}}) to go through it")
        expectDiagnostic(
            failure("{{{map}}}", context), "a mapping cannot be written as text", at: 1, 1,
            help: "use a section ({{#name}}…{{/name}}) to go through it")
        expectDiagnostic(
            failure("{{#map}}{{.}}{{/map}}", context), "a mapping cannot be written as text", at: 1, 9,
            help: "use a section ({{#name}}…{{/name}}) to go through it")
    }

    // MARK: Parse errors

    @Test("an unclosed tag is an error at the tag")
    func unclosedTag() {
        expectDiagnostic(failure("hello\n  {{name"), "unclosed tag: '{{' without a matching '}}'", at: 2, 3)
        expectDiagnostic(failure("{{{name}}"), "unclosed tag: '{{' without a matching '}}'", at: 1, 1)
        expectDiagnostic(failure("{{=<% %>=}}\nx <%name"), "unclosed tag: '<%' without a matching '%>'", at: 2, 3)
        expectDiagnostic(failure("{{! never closed"), "unclosed tag: '{{' without a matching '}}'", at: 1, 1)
    }

    @Test("an unclosed section is an error at its opening tag")
    func unclosedSection() {
        expectDiagnostic(
            failure("a\nb {{#items}}\n{{name}}\n", ["items": []]), "section 'items' is never closed", at: 2, 3,
            help: "add {{/items}}")
        expectDiagnostic(failure("{{#a}}{{#b}}{{/b}}", ["a": true, "b": true]), "section 'a' is never closed", at: 1, 1, help: "add {{/a}}")
    }

    @Test("a closing tag that does not match names the open section and its line")
    func mismatchedClosingTag() {
        expectDiagnostic(
            failure("{{#a}}\n{{#b}}\n  {{/a}}\n{{/b}}\n", ["a": true, "b": true]),
            "closing tag 'a' does not match the open section 'b'", at: 3, 3, help: "the section 'b' opens at line 2")
    }

    @Test("a closing tag without an open section is an error")
    func closingWithoutOpen() {
        expectDiagnostic(failure("text\nx{{/a}}"), "closing tag 'a' has no open section", at: 2, 2)
        expectDiagnostic(failure("{{#a}}{{/a}}{{/a}}", ["a": true]), "closing tag 'a' has no open section", at: 1, 13)
    }

    @Test("a partial tag needs a name")
    func emptyPartialName() {
        expectDiagnostic(failure("x {{>}}"), "a partial tag needs a name", at: 1, 3)
        expectDiagnostic(failure("{{>  }}"), "a partial tag needs a name", at: 1, 1)
    }

    @Test("malformed names are errors", arguments: ["a..b", ".a", "a.", "a b", ""])
    func malformedNames(_ name: String) {
        expectDiagnostic(
            failure("x\n {{\(name)}}"), "'\(name)' is not a name", at: 2, 2,
            help: "names are words joined by dots, like machine.address")
    }

    @Test("malformed section names are errors too")
    func malformedSectionNames() {
        expectDiagnostic(
            failure("{{#a..b}}{{/a..b}}"), "'a..b' is not a name", at: 1, 1,
            help: "names are words joined by dots, like machine.address")
    }

    @Test("a malformed delimiter change is an error")
    func malformedDelimiters() {
        let help: String? = nil
        for source in ["{{=<%=}}", "{{=<% %> x=}}", "{{= =}}"] {
            expectDiagnostic(failure(source), "a delimiter change is written {{=OPEN CLOSE=}}, for example {{=<% %>=}}", at: 1, 1, help: help)
        }
    }

    @Test("errors are thrown while compiling, before any rendering")
    func errorsAtCompileTime() {
        #expect(throws: DiagnosticsError.self) { try compile("{{#a}}") }
        #expect(throws: Never.self) { try compile("{{nope}}") }
    }

    // MARK: Unknown and sensitive values

    @Test("unknown values render (known after apply) and mark the result unknown")
    func unknownValues() throws {
        let context: TemplateValue = ["captured": ["token": .unknown("captured token")], "later": .unknown("captured later")]
        let result = try rendered("docker swarm join --token {{captured.token}}", context)
        #expect(result.text == "docker swarm join --token (known after apply)")
        #expect(result.text.contains(RenderedText.unknownPlaceholder))
        #expect(result.isUnknown)
        #expect(!result.isSensitive)
        #expect(result.display == result.text)
        // Members of an unknown value are unknown too.
        let member = try rendered("{{later.address}}", context)
        #expect(member.text == "(known after apply)")
        #expect(member.isUnknown)
    }

    @Test("an unknown value used as a section renders its body and marks the result unknown")
    func unknownSections() throws {
        let context: TemplateValue = ["flag": .unknown("captured flag"), "name": "n"]
        let shown = try rendered("[{{#flag}}yes {{name}}{{/flag}}]", context)
        #expect(shown.text == "[yes n]")
        #expect(shown.isUnknown)
        let inverted = try rendered("[{{^flag}}no{{/flag}}]", context)
        #expect(inverted.text == "[]")
        #expect(inverted.isUnknown)
        let plain = try rendered("[{{name}}]", context)
        #expect(!plain.isUnknown)
    }

    @Test("inside a section over an unknown value, {{.}} is that unknown value")
    func unknownSectionImplicitIterator() throws {
        let result = try rendered("{{#token}}--token={{.}}{{/token}}", ["token": .unknown("captured token")])
        #expect(result.text == "--token=(known after apply)")
        #expect(result.isUnknown)
    }

    @Test("sensitive values render the real text, but the result is shown as (sensitive)")
    func sensitiveValues() throws {
        let context: TemplateValue = ["secrets": ["apiToken": .sensitive("s3cr3t")], "user": "admin"]
        let result = try rendered("Authorization: Bearer {{secrets.apiToken}}", context)
        #expect(result.text == "Authorization: Bearer s3cr3t")
        #expect(result.isSensitive)
        #expect(!result.isUnknown)
        #expect(result.display == "(sensitive)")
        let plain = try rendered("user={{user}}", context)
        #expect(!plain.isSensitive)
        #expect(plain.display == "user=admin")
        // Through a section and {{.}} as well.
        let section = try rendered("{{#secrets.apiToken}}[{{.}}]{{/secrets.apiToken}}", context)
        #expect(section.text == "[s3cr3t]")
        #expect(section.isSensitive)
    }

    @Test("a result can be both unknown and sensitive; it is still shown as (sensitive)")
    func unknownAndSensitive() throws {
        let result = try rendered("{{a}} {{b}}", ["a": .sensitive("x"), "b": .unknown("captured b")])
        #expect(result.text == "x (known after apply)")
        #expect(result.isUnknown && result.isSensitive)
        #expect(result.display == "(sensitive)")
    }

    @Test("an empty sensitive value is falsy like any empty text")
    func emptySensitiveIsFalsy() throws {
        #expect(try renderText("[{{#s}}set{{/s}}{{^s}}unset{{/s}}]", ["s": .sensitive("")]) == "[unset]")
    }

    // MARK: Constant text

    @Test("templates without tags have constantText and render it for any context")
    func constantText() throws {
        let plain = try compile("no tags here\n{ not a tag }\n")
        #expect(plain.constantText == "no tags here\n{ not a tag }\n")
        #expect(plain.isConstant)
        #expect(try plain.render(["anything": ["a"]]).text == "no tags here\n{ not a tag }\n")
        #expect(try compile("").constantText == "")
        #expect(try compile("{{! only a comment }}").constantText == "")
        #expect(try compile("{{! comment }}\n").constantText == "")
        let variable = try compile("a {{x}}")
        #expect(variable.constantText == nil)
        #expect(!variable.isConstant)
        #expect(try compile("{{#a}}x{{/a}}").constantText == nil)
        #expect(try compile("{{>p}}").constantText == nil)
        #expect(try compile("{{>p}}").isConstant == false)
        let result = try plain.render([:])
        #expect(!result.isUnknown && !result.isSensitive)
        #expect(try compile("x", name: "daemon.json").name == "daemon.json")
    }

    // MARK: References

    @Test("topLevelReferences: names outside sections, with their positions")
    func topLevelReferences() throws {
        let template = try compile(
            "{{a.b}} {{#list}}{{item}}{{/list}}\n {{^c.d}}{{e}}{{/c.d}} {{>p}} {{! x }}{{.}}",
            origin: Location(file: "kind.yaml", line: 5, column: 10))
        let references = template.topLevelReferences
        #expect(references.map { $0.path } == [["a", "b"], ["list"], ["c", "d"], []])
        #expect(
            references.map { $0.location } == [
                Location(file: "kind.yaml", line: 5, column: 10),
                Location(file: "kind.yaml", line: 5, column: 18),
                Location(file: "kind.yaml", line: 6, column: 2),
                Location(file: "kind.yaml", line: 6, column: 39),
            ])
    }

    @Test("allReferences: names in sections and through partials, each partial walked once")
    func allReferences() throws {
        let partials = try library([
            "endpoint": "{{machine.address}}:{{settings.port}}{{>common}}",
            "common": "{{deployment.name}}{{>endpoint}}",
        ])
        let template = try compile("{{#roles.etcd.machines}}{{>endpoint}}{{^last}},{{/last}}{{/roles.etcd.machines}} {{>missing}} {{cluster.name}}")
        let references = template.allReferences(partials: partials)
        #expect(
            references == [
                ["roles", "etcd", "machines"], ["machine", "address"], ["settings", "port"], ["deployment", "name"], ["last"],
                ["cluster", "name"],
            ])
        // Without the partials only the template's own names.
        #expect(template.allReferences() == [["roles", "etcd", "machines"], ["last"], ["cluster", "name"]])
        #expect(template.partialNames.map { $0.name } == ["endpoint", "missing"])
        #expect(template.partialNames.map { $0.location.column } == [25, 82])
    }

    @Test("TemplateValue.lookup follows the rules of templates")
    func publicLookup() throws {
        let at = Location(file: "kind.yaml", line: 3, column: 4)
        let value = try TemplateValue.lookup(["services", "etcd"], in: [["services": ["etcd": true]]], at: at)
        if case .bool(true) = value {} else { Issue.record("expected true, got \(value)") }
        do {
            _ = try TemplateValue.lookup(["services", "etdc"], in: [["services": ["etcd": true]]], at: at)
            Issue.record("expected an error")
        } catch {
            #expect(
                error.diagnostics == [
                    Diagnostic(
                        "'services.etdc' does not exist: 'services' has no 'etdc'", at: at,
                        help: "did you mean 'etcd'?")
                ])
        }
    }
}
