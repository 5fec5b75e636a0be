import ArgumentParser
import Deployments
import Foundation
import Kinds
import PhotonCore
import Planning

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what 'apply' would do, touching nothing.",
        discussion: """
            Lists, per cluster and role, the machines to create, the files to upload (with their SHA-256), \
            the commands to run and the machines to drain and delete. Values that only exist after apply \
            (captured join tokens) show as '(known after apply)'; secrets never appear.
            """
    )

    @OptionGroup var blueprint: BlueprintOptions
    @OptionGroup var state: StateOptions

    @Option(help: "Output format: text, json or dot (Graphviz).")
    var format: PlanFormat = .text

    @Option(name: [.short, .customLong("out")], help: ArgumentHelp("Also write the plan as JSON to this file, for a later 'apply'.", valueName: "plan-file"))
    var out: String?

    @Flag(help: "Exit with 2 when the plan has changes (0 when it has none).")
    var detailedExitcode = false

    @Flag(help: "Ask the control plane which machines run and whether their SSH answers, as apply does, and plan for what it says.")
    var refresh = false

    func run() async throws {
        let preview = try await Preview.make(
            blueprintPath: blueprint.file, templates: blueprint.templates, state: state.location, clustersFormat: format.rawValue,
            savingOrDrawing: out != nil || format == .dot, refresh: refresh)
        var renderer = DiagnosticRenderer(color: Output.stderrColor)
        for warning in preview.warnings { Output.error(renderer.renderWarning(warning)) }
        let plan = preview.plan
        if let remote = preview.clusters {
            if format == .text {
                Output.result("Management plane (from this installer):\n" + PlanTextRenderer(color: Output.stdoutColor).render(plan))
                Output.result("Clusters (from the management plane):\n" + remote.plan)
            } else {
                Output.result(PlanJSONRenderer.render(plan, photonVersion: Photon.version))
                Output.result(remote.plan)
            }
            if !remote.errors.isEmpty { Output.error(remote.errors) }
            guard remote.exitStatus == 0 || remote.exitStatus == 2 else { throw ExitCode.failure }
            if detailedExitcode, plan.hasChanges || remote.exitStatus == 2 { throw ExitCode(2) }
            return
        }
        switch format {
        case .text: Output.result(PlanTextRenderer(color: Output.stdoutColor).render(plan))
        case .json: Output.result(PlanJSONRenderer.render(plan, photonVersion: Photon.version))
        case .dot: Output.result(PlanDOTRenderer.render(plan))
        }
        if let out {
            do {
                try Data((PlanJSONRenderer.render(plan, photonVersion: Photon.version) + "\n").utf8).write(to: URL(fileURLWithPath: out), options: .atomic)
            } catch {
                throw PhotonError("cannot write the plan to '\(out)': \(error.localizedDescription)")
            }
            Output.error("Saved the plan to \(out).")
        }
        if detailedExitcode, plan.hasChanges { throw ExitCode(2) }
    }
}

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a blueprint: syntax, types, names, references, and the rules of its kinds.",
        discussion: "Reports every problem in the file at once, each with file:line:column."
    )

    @OptionGroup var blueprint: BlueprintOptions

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    func run() throws {
        let workspace = try Workspace(templates: blueprint.templates)
        do {
            let loaded = try workspace.loadBlueprint(blueprint.file)
            let planner = workspace.planner(for: loaded)
            let resolved = try Resolver(catalog: workspace.catalog, secrets: planner.secrets).resolve(loaded)
            // Planning renders every template, which finds the remaining errors (names in sections, partials).
            _ = try planner.plan(resolved, recorded: .empty)
            var renderer = DiagnosticRenderer(color: Output.stderrColor)
            for warning in try Runner.blueprintWarnings(loaded) + Runner.localPreflight(resolved, planner: planner, catalog: workspace.catalog, inPlane: false)
            {
                Output.error(renderer.renderWarning(warning))
            }
            if format == .json {
                Output.result(JSONOutput.encode(ValidationReport(valid: true, machines: resolved.machineCount, errors: [])))
            } else {
                Output.result(
                    "\(blueprint.file): valid (\(resolved.groups.count) group\(resolved.groups.count == 1 ? "" : "s"), \(resolved.machineCount) machine\(resolved.machineCount == 1 ? "" : "s"))"
                )
            }
        } catch let error as DiagnosticsError where format == .json {
            Output.result(JSONOutput.encode(ValidationReport(valid: false, machines: nil, errors: error.diagnostics.map(DiagnosticDTO.init))))
            throw ExitCode.failure
        }
    }
}

struct KindsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kinds",
        abstract: "List the cluster kinds, their roles and their settings."
    )

    @OptionGroup var kinds: TemplatesOption

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    func run() throws {
        let workspace = try Workspace(templates: self.kinds.templates)
        let kinds = workspace.catalog.kinds.values.sorted {
            ($0.name == KindCatalog.managementKind ? 1 : 0, $0.name) < ($1.name == KindCatalog.managementKind ? 1 : 0, $1.name)
        }
        if format == .json {
            Output.result(JSONOutput.encode(kinds.map(KindDTO.init)))
            return
        }
        var lines: [String] = []
        for kind in kinds {
            lines.append("\(kind.name)  \(kind.description)")
            lines.append("  roles, in order:")
            for role in kind.roles {
                let needs = role.needs.isEmpty ? "" : "; needs \(role.needs.joined(separator: ", "))"
                lines.append("    \(role.name)  (\(role.count.summary)\(needs))  \(role.description)")
            }
            if !kind.settings.isEmpty {
                lines.append("  settings:")
                for setting in kind.settings {
                    let value = setting.defaultValue.map { "default \($0)" } ?? "required"
                    lines.append("    \(setting.name): \(setting.type.rawValue), \(value)\(setting.description.isEmpty ? "" : "  \(setting.description)")")
                }
            }
            if !kind.services.isEmpty {
                lines.append("  services: " + kind.services.map { $0.required ? "\($0.name) (required)" : $0.name }.joined(separator: ", "))
            }
            let uploads = KindDTO.uploads(kind)
            if !uploads.isEmpty {
                lines.append("  files (values written as): " + uploads.map { "\($0) (\(kind.format(ofTemplate: $0).rawValue))" }.joined(separator: ", "))
            }
            lines.append("")
        }
        Output.result(lines.joined(separator: "\n"))
    }
}

struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print the blueprint JSON Schema (draft 2020-12) for editors, with every kind's roles and settings."
    )

    @OptionGroup var kinds: TemplatesOption

    func run() throws {
        Output.result(BlueprintSchema.json(catalog: try Workspace(templates: kinds.templates).catalog))
    }
}

struct ValidationReport: Encodable {
    var valid: Bool
    var machines: Int?
    var errors: [DiagnosticDTO]
}

struct DiagnosticDTO: Encodable {
    var file: String?
    var line: Int?
    var column: Int?
    var message: String
    var help: String?

    init(_ diagnostic: Diagnostic) {
        file = diagnostic.location?.file
        line = diagnostic.location?.line
        column = diagnostic.location?.column
        message = diagnostic.message
        help = diagnostic.help
    }
}

struct KindDTO: Encodable {
    struct Role: Encodable {
        var name: String, description: String, min: Int, max: Int, odd: Bool, defaultCount: Int?, needs: [String]
    }
    struct SettingInfo: Encodable {
        var name: String, type: String, defaultValue: String?, description: String, values: [String]?
    }
    var name: String
    var description: String
    var roles: [Role]
    var settings: [SettingInfo]
    var services: [String]
    /// Each template the kind uploads, and the format its values are written in.
    var files: [String: String]

    init(_ kind: Kind) {
        name = kind.name
        description = kind.description
        roles = kind.roles.map {
            Role(
                name: $0.name, description: $0.description, min: $0.count.min, max: $0.count.max, odd: $0.count.odd,
                defaultCount: $0.count.defaultCount, needs: $0.needs)
        }
        settings = kind.settings.map { setting in
            SettingInfo(
                name: setting.name, type: setting.type.rawValue, defaultValue: setting.defaultValue?.description, description: setting.description,
                values: setting.allowed.isEmpty ? nil : setting.allowed)
        }
        services = kind.services.map(\.name)
        files = Dictionary(Self.uploads(kind).map { ($0, kind.format(ofTemplate: $0).rawValue) }, uniquingKeysWith: { a, _ in a })
    }

    /// The templates a kind uploads, in the order its steps first do.
    static func uploads(_ kind: Kind) -> [String] {
        var seen = Set<String>(), names: [String] = []
        for role in kind.roles {
            for phase in Phase.allCases {
                for step in role.steps(in: phase) {
                    if case .upload(let template, _, _, _) = step.action, seen.insert(template).inserted { names.append(template) }
                }
            }
        }
        return names
    }
}
