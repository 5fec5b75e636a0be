import Engine
import Foundation
import PhotonCore
import Planning

/// Shows an apply as it runs: a live view on a terminal (per cluster and role: done/total, the step each
/// machine is on, elapsed time), one plain line per transition otherwise, or NDJSON events for CI
/// systems. Every transition also goes to the run's log file.
package final class ProgressReporter: Sendable {
    package enum Mode { case live, lines, json }

    package let plan: Plan
    package let mode: Mode
    package let log: FileHandle?
    package let started = ContinuousClock.now
    private let state: Locked<ViewState>

    package struct ViewState {
        package var done: [String: Int] = [:]
        package var current: [String: String] = [:]
        package var failed = 0
        package var lastDraw = ContinuousClock.now - .seconds(1)
        package var drawnLines = 0
    }

    /// Per role key (`group/role`): how many actions it has.
    package let totals: [(key: String, total: Int)]
    package let roleOfAction: [String?]

    package init(plan: Plan, mode: Mode, logPath: String?) {
        self.plan = plan
        self.mode = mode
        if let logPath {
            if !FileManager.default.createFile(atPath: logPath, contents: nil, attributes: [.posixPermissions: 0o600]) {
                Output.error("warning: cannot write the run log \(logPath); progress still goes to the terminal")
            }
            log = FileHandle(forWritingAtPath: logPath)
        } else {
            log = nil
        }
        var roleOf = [String?](repeating: nil, count: plan.actions.count)
        var totals: [String: Int] = [:]
        var order: [String] = []
        for machine in plan.machines {
            let key = "\(machine.group)/\(machine.role)"
            for action in machine.actions {
                roleOf[action] = key
                if totals[key] == nil { order.append(key) }
                totals[key, default: 0] += 1
            }
        }
        self.totals = order.map { ($0, totals[$0] ?? 0) }
        roleOfAction = roleOf
        state = Locked(ViewState())
    }

    package static func timestamp() -> String { RunEventLine.now() }

    package func write(line: String) {
        log?.write(Data((line + "\n").utf8))
    }

    package func handle(_ event: EngineEvent) {
        // Messages carry machines' output and values: shown, never obeyed, in the log as on the terminal.
        let line = TerminalText.visible(describe(event))
        write(line: "\(Self.timestamp()) \(line)")
        switch mode {
        case .json:
            Output.result(json(event).json)
        case .lines:
            Output.error(line)
        case .live:
            update(event)
            redraw(force: false)
        }
    }

    package func describe(_ event: EngineEvent) -> String {
        switch event {
        case .started(let index, let attempt):
            let action = plan.actions[index]
            return "started  \(action.id)\(attempt > 1 ? " (attempt \(attempt))" : ""): \(action.summary)"
        case .retrying(let index, let attempt, let delay, let reason):
            return "retry    \(plan.actions[index].id) (attempt \(attempt) in \(Self.seconds(delay))): \(reason)"
        case .finished(let index, let status, let elapsed, let message):
            let word = status == .succeeded ? "ok" : status.rawValue
            return
                "\(word.padding(toLength: 8, withPad: " ", startingAt: 0)) \(plan.actions[index].id) (\(Self.seconds(elapsed)))\(message.map { ": \($0)" } ?? "")"
        case .blocked(let index, let by):
            return "blocked  \(plan.actions[index].id): \(plan.actions[by].id) failed"
        }
    }

    package func json(_ event: EngineEvent) -> RunEventLine {
        let action = { (index: Int) in self.plan.actions[index] }
        let typed: RunEvent =
            switch event {
            case .started(let index, let attempt):
                .started(action: action(index).id, machine: action(index).machine, attempt: attempt, summary: action(index).summary)
            case .retrying(let index, let attempt, let delay, let reason):
                .retrying(action: action(index).id, attempt: attempt, delay: Self.seconds(delay), reason: reason)
            case .finished(let index, let status, let elapsed, let message):
                .finished(action: action(index).id, machine: action(index).machine, status: status.rawValue, elapsed: Self.seconds(elapsed), message: message)
            case .blocked(let index, let by):
                .blocked(action: action(index).id, by: action(by).id)
            }
        return RunEventLine(typed)
    }

    package static func seconds(_ duration: Duration) -> String {
        let value = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return String(format: "%.1fs", value)
    }

    // MARK: Live view

    package func update(_ event: EngineEvent) {
        state.withLock { view in
            switch event {
            case .started(let index, _):
                let action = plan.actions[index]
                if !action.machine.isEmpty { view.current[action.machine] = action.summary }
            case .finished(let index, let status, _, _):
                let action = plan.actions[index]
                if let key = roleOfAction[index] { view.done[key, default: 0] += 1 }
                if status == .failed { view.failed += 1 }
                view.current[action.machine] = nil
            default:
                break
            }
        }
    }

    package func redraw(force: Bool) {
        let output: String? = state.withLock { view in
            let now = ContinuousClock.now
            guard force || now - view.lastDraw >= .milliseconds(100) else { return nil }
            view.lastDraw = now
            var lines = ["applying \(plan.deployment): \(Self.seconds(now - started)) elapsed\(view.failed > 0 ? ", \(view.failed) failed" : "")"]
            for (key, total) in totals {
                lines.append("  \(key): \(view.done[key, default: 0])/\(total)")
            }
            for (machine, step) in view.current.sorted(by: { $0.key < $1.key }).prefix(12) {
                let shown = step.count > 90 ? String(step.prefix(89)) + "…" : step
                lines.append("    \(machine): \(shown)")
            }
            if view.current.count > 12 { lines.append("    … and \(view.current.count - 12) more machines") }
            // Move up over the previous frame and clear it.
            let clear = view.drawnLines > 0 ? "\u{1B}[\(view.drawnLines)F\u{1B}[J" : ""
            view.drawnLines = lines.count
            return clear + TerminalText.visible(lines.joined(separator: "\n"))
        }
        if let output { Output.error(output) }
    }

    package func finish() {
        if mode == .live { redraw(force: true) }
        try? log?.close()
    }
}
