import Planning

extension RecordedState {
    /// Applies an effect the way every journal must: the reference semantics of ``Effect``.
    public mutating func apply(_ effect: Effect) {
        func update(_ name: String, _ change: (inout RecordedMachine) -> Void) {
            if let index = machines.firstIndex(where: { $0.name == name }) { change(&machines[index]) }
        }
        switch effect {
        case .machineIntent(let spec):
            if let index = machines.firstIndex(where: { $0.name == spec.name }) {
                machines[index].lifecycle = .creating
            } else {
                machines.append(
                    RecordedMachine(
                        name: spec.name, group: spec.group, kind: spec.kind, role: spec.role, index: spec.index,
                        address: spec.address ?? "", lifecycle: .creating))
            }
        case .machineCreated(let spec, let handle):
            if !machines.contains(where: { $0.name == spec.name }) { apply(.machineIntent(spec)) }
            update(spec.name) {
                $0.address = handle.address
                $0.hostKeyFingerprint = handle.hostKeyFingerprint
                $0.lifecycle = .bringingUp
            }
        case .machineReady(let name):
            update(name) {
                $0.lifecycle = .ready
                $0.completedActions = []
            }
        case .machineDeleting(let name):
            update(name) { $0.lifecycle = .deleting }
        case .machineDeleted(let name):
            machines.removeAll { $0.name == name }
        case .fileUploaded(let machine, let path, let sha256, let mode, let content):
            update(machine) { $0.files[path] = RecordedFile(sha256: sha256, mode: mode, content: content) }
        case .captured(let group, let name, let value, let secret):
            captured["\(group)/\(name)"] = RecordedValue(value: value, secret: secret)
        case .actionCompleted(let machine, let actionID):
            update(machine) { $0.completedActions.insert(actionID) }
        }
    }
}
