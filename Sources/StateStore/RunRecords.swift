import Engine
import Foundation
import GRDB
import PhotonCore

public enum RunStatus: String, Sendable, Codable, Hashable {
    case running, succeeded, failed, interrupted
}

/// One `apply`, `scale` or `destroy`, as recorded.
public struct RunRecord: Sendable, Hashable {
    public var id: Int64
    public var command: String
    public var startedAt: Date
    public var finishedAt: Date?
    /// As reported: a run recorded as `running` whose process is gone reads `interrupted`.
    public var status: RunStatus
    public var blueprintDigest: String?
    /// The plan summary (JSON) given to ``SQLiteStateStore/finishRun(_:status:summary:)``.
    public var summary: String?
    public var pid: Int32
    public var host: String

    public init(
        id: Int64, command: String, startedAt: Date, finishedAt: Date?, status: RunStatus, blueprintDigest: String?, summary: String?,
        pid: Int32, host: String
    ) {
        self.id = id
        self.command = command
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.status = status
        self.blueprintDigest = blueprintDigest
        self.summary = summary
        self.pid = pid
        self.host = host
    }
}

/// One journaled transition.
public struct JournalEntry: Sendable, Hashable {
    public var runID: Int64
    /// 1, 2, 3… within the run, in the order the transitions were recorded.
    public var sequence: Int
    public var actionID: String
    public var machine: String
    public var status: Transition.Status
    public var at: Date
    public var message: String?
    public var stderrTail: String?
    public var attempt: Int

    public init(
        runID: Int64, sequence: Int, actionID: String, machine: String, status: Transition.Status, at: Date, message: String?,
        stderrTail: String?, attempt: Int
    ) {
        self.runID = runID
        self.sequence = sequence
        self.actionID = actionID
        self.machine = machine
        self.status = status
        self.at = at
        self.message = message
        self.stderrTail = stderrTail
        self.attempt = attempt
    }
}
