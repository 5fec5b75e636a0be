import Blueprints
import Kinds
import PhotonCore

/// Renders one action of a plan again with values captured since the plan was made: a worker's join
/// command needs the token the first manager printed a minute earlier in the same apply.
public struct ActionRenderer: Sendable {
    let desired: DesiredState
    let artifacts: [String: Artifact]

    /// The action's detail rendered with `captured` (by `<group>/<name>`), or nil when the action is not a
    /// desired machine's kind step.
    public func rerender(_ action: PlanAction, captured: [String: RecordedValue]) throws(DiagnosticsError) -> PlanAction? {
        guard let phase = action.phase, let position = desired.indexByName[action.machine] else { return nil }
        let machine = desired.machines[position]
        var group = desired.groups[machine.group]
        let role = group.resolved.roles[machine.role]
        let steps = role.declaration.steps(in: phase)
        guard action.ordinal >= 1, action.ordinal <= steps.count else { return nil }
        group.context = Self.context(group.context, withCaptured: captured, group: group.resolved)
        let scope: TemplateValue = .object(TemplateObject(["machine": machine.value, "role": group.roleValues[machine.role]]))
        var renderer = StepRenderer(
            state: desired, group: group, contexts: [group.context, scope], subject: machine.name,
            subjectAddress: machine.address, artifacts: artifacts)
        guard let rendered = try renderer.render(steps[action.ordinal - 1], phase: phase, ordinal: action.ordinal - 1, facts: nil) else { return nil }
        var result = action
        result.detail = rendered.action.detail
        result.options = rendered.action.options
        return result
    }

    /// Every secret value the plan knows (the blueprint's secrets, secret settings, captured secrets it
    /// was planned with): the engine masks them in whatever a machine prints.
    public var sensitiveValues: [String] {
        var found = Set<String>()
        func walk(_ value: TemplateValue) {
            switch value {
            case .sensitive(let text): found.insert(text)
            case .list(let items): items.forEach(walk)
            case .object(let object): object.storage.values.forEach(walk)
            default: break
            }
        }
        for group in desired.groups { walk(group.context) }
        return found.sorted()
    }

    static func context(_ context: TemplateValue, withCaptured captured: [String: RecordedValue], group: ResolvedGroup) -> TemplateValue {
        guard case .object(var object) = context, case .object(var values)? = object["captured"] else { return context }
        for name in values.keys {
            if let value = captured["\(group.name)/\(name)"] { values[name] = value.secret ? .sensitive(value.value) : .text(value.value) }
        }
        object["captured"] = .object(values)
        return .object(object)
    }
}
