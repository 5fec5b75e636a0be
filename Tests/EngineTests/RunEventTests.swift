import Engine
import Foundation
import Testing

@Suite("Run events on the wire")
struct RunEventTests {
    static let all: [RunEvent] = [
        .plan(text: "Plan: 1 machine to create", changes: true),
        .run(id: 42),
        .started(action: "m-1/create-machine", machine: "m-1", attempt: 2, summary: "create machine"),
        .retrying(action: "m-1/configure/1", attempt: 3, delay: "0.4s", reason: "connection refused"),
        .finished(action: "m-1/configure/1", machine: "m-1", status: "failed", elapsed: "1.2s", message: "exit status 1"),
        .finished(action: "m-1/configure/2", machine: "m-1", status: "succeeded", elapsed: "0.1s", message: nil),
        .blocked(action: "m-2/join/1", by: "m-1/join/1"),
        .access(title: "cluster web (swarm)", machine: "d-web-managers-1", address: "10.0.0.3", user: "root", port: 2222, command: "docker node ls"),
        .operation(state: "resumed", node: "https://10.0.0.2:9443", attempt: 2),
        .operation(state: "paused", node: "https://10.0.0.2:9443", attempt: nil),
        .log(line: "a line with / and \u{1b}[31m"),
        .exit(status: 130, outcome: "interrupted"),
    ]

    @Test("every event reads back as it was written; fields are strings, keys sorted, controls escaped")
    func roundTrip() throws {
        for event in Self.all {
            let line = RunEventLine(event, time: "2026-12-05T08:00:00.000Z")
            let text = line.json
            #expect(RunEventLine.parse(text) == line, "\(text)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            #expect(object.values.allSatisfy { $0 is String }, "\(text)")
            #expect(object["event"] as? String == event.name)
            #expect(!text.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) })
        }
        #expect(
            RunEventLine(.started(action: "a", machine: "m", attempt: 1, summary: "s"), time: "t").json
                == #"{"action":"a","attempt":"1","event":"started","machine":"m","summary":"s","time":"t"}"#)
    }

    @Test("an event a newer server sends is kept by name; a line that is not an event, or misses a field, is not one")
    func unknownAndBroken() {
        #expect(RunEventLine.parse(#"{"event":"checkpoint","time":"t","id":"7"}"#)?.event == .other(name: "checkpoint"))
        #expect(RunEventLine.parse(#"{"time":"t"}"#) == nil)
        #expect(RunEventLine.parse(#"{"event":"started","time":"t","action":"a"}"#) == nil)
        #expect(RunEventLine.parse("not json") == nil)
        #expect(RunEventLine.parse(#"{"event":"run","time":"t","id":"x"}"#) == nil)
    }
}
