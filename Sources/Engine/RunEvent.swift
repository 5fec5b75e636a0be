import Foundation
import PhotonCore

/// One line of a run's event stream: what `--format json` prints (NDJSON), what the management plane
/// stores for each operation and streams to its clients, and what the CLI reads back from it.
///
/// On the wire each event is one flat JSON object: `event` names the case, `time` is when it was
/// written, and every other field is a string (numbers included), as `openapi.yaml` describes them.
/// An event of a kind this photon does not know (from a newer server) decodes as `.other`, so a
/// client shows what it can and skips the rest.
public enum RunEvent: Sendable, Equatable {
    /// The plan as text, before anything runs (a client of the plane shows it).
    case plan(text: String, changes: Bool)
    /// The run's id in the recorded state.
    case run(id: Int64)
    case started(action: String, machine: String, attempt: Int, summary: String)
    case retrying(action: String, attempt: Int, delay: String, reason: String)
    case finished(action: String, machine: String, status: String, elapsed: String, message: String?)
    case blocked(action: String, by: String)
    /// How to reach a cluster: an ssh line to one of its machines running the kind's `access` command.
    case access(title: String, machine: String, address: String, user: String, port: Int, command: String)
    /// The plane's side of an operation: `started`, `resumed` (by a new leader) or `paused`.
    case operation(state: String, node: String, attempt: Int?)
    /// A line the operation's process wrote that is not an event.
    case log(line: String)
    /// The operation's end: its exit status and outcome.
    case exit(status: Int32, outcome: String)
    case other(name: String)

    /// The event's name on the wire.
    public var name: String {
        switch self {
        case .plan: "plan"
        case .run: "run"
        case .started: "started"
        case .retrying: "retrying"
        case .finished: "finished"
        case .blocked: "blocked"
        case .access: "access"
        case .operation: "operation"
        case .log: "log"
        case .exit: "exit"
        case .other(let name): name
        }
    }

    /// Its fields besides `event` and `time`, as the wire has them.
    var fields: [String: String] {
        switch self {
        case .plan(let text, let changes): ["text": text, "changes": changes ? "true" : "false"]
        case .run(let id): ["id": String(id)]
        case .started(let action, let machine, let attempt, let summary):
            ["action": action, "machine": machine, "attempt": String(attempt), "summary": summary]
        case .retrying(let action, let attempt, let delay, let reason): ["action": action, "attempt": String(attempt), "delay": delay, "reason": reason]
        case .finished(let action, let machine, let status, let elapsed, let message):
            ["action": action, "machine": machine, "status": status, "elapsed": elapsed].merging(message.map { ["message": $0] } ?? [:]) { $1 }
        case .blocked(let action, let by): ["action": action, "by": by]
        case .access(let title, let machine, let address, let user, let port, let command):
            ["title": title, "machine": machine, "address": address, "user": user, "port": String(port), "command": command]
        case .operation(let state, let node, let attempt): ["state": state, "node": node].merging(attempt.map { ["attempt": String($0)] } ?? [:]) { $1 }
        case .log(let line): ["line": line]
        case .exit(let status, let outcome): ["status": String(status), "outcome": outcome]
        case .other: [:]
        }
    }

    init(name: String, fields: [String: String]) throws {
        func field(_ key: String) throws -> String {
            guard let value = fields[key] else { throw RunEventError(message: "a '\(name)' event without '\(key)'") }
            return value
        }
        func number<T: FixedWidthInteger>(_ key: String) throws -> T {
            guard let value = T(try field(key)) else { throw RunEventError(message: "'\(key)' of a '\(name)' event is not a number") }
            return value
        }
        switch name {
        case "plan": self = .plan(text: try field("text"), changes: try field("changes") == "true")
        case "run": self = .run(id: try number("id"))
        case "started":
            self = .started(action: try field("action"), machine: try field("machine"), attempt: try number("attempt"), summary: try field("summary"))
        case "retrying": self = .retrying(action: try field("action"), attempt: try number("attempt"), delay: try field("delay"), reason: try field("reason"))
        case "finished":
            self = .finished(
                action: try field("action"), machine: try field("machine"), status: try field("status"), elapsed: try field("elapsed"),
                message: fields["message"])
        case "blocked": self = .blocked(action: try field("action"), by: try field("by"))
        case "access":
            self = .access(
                title: try field("title"), machine: try field("machine"), address: try field("address"), user: try field("user"),
                port: Int(fields["port"] ?? "") ?? 22, command: try field("command"))
        case "operation": self = .operation(state: try field("state"), node: try field("node"), attempt: fields["attempt"].flatMap { Int($0) })
        case "log": self = .log(line: try field("line"))
        case "exit": self = .exit(status: Int32(fields["status"] ?? "") ?? 1, outcome: fields["outcome"] ?? "failed")
        default: self = .other(name: name)
        }
    }
}

/// A ``RunEvent`` with the moment it was written: one line of the stream.
public struct RunEventLine: Codable, Sendable, Equatable {
    public var event: RunEvent
    /// ISO 8601 with milliseconds, UTC.
    public var time: String

    public init(_ event: RunEvent, time: String = RunEventLine.now()) {
        self.event = event
        self.time = time
    }

    public static func now() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(event.name, forKey: Key(stringValue: "event"))
        try container.encode(time, forKey: Key(stringValue: "time"))
        for (key, value) in event.fields { try container.encode(value, forKey: Key(stringValue: key)) }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        var fields: [String: String] = [:]
        for key in container.allKeys {
            // Fields are strings; anything else (from a client that is not photon) is left out.
            if let value = try? container.decode(String.self, forKey: key) { fields[key.stringValue] = value }
        }
        guard let name = fields.removeValue(forKey: "event") else { throw RunEventError(message: "a line without 'event'") }
        time = fields.removeValue(forKey: "time") ?? ""
        event = try RunEvent(name: name, fields: fields)
    }

    /// The line as the stream carries it: compact, keys sorted, control characters escaped.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return JSONText.escapingControls(String(decoding: data, as: UTF8.self))
    }

    /// A line of the stream read back; nil for a line that is not an event.
    public static func parse(_ line: String) -> RunEventLine? {
        try? JSONDecoder().decode(RunEventLine.self, from: Data(line.utf8))
    }
}

public struct RunEventError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
