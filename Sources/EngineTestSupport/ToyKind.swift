import Foundation

/// A small cluster kind whose commands the in-memory and file-backed machines understand: a leader that
/// initialises once (guarded) and hands out a token, members that join with it once (guarded). The token
/// reaches members in their configuration file (mode 0600), never on a command line.
public enum ToyKind {
    public static let definition = """
        kind: toy
        description: a cluster for engine tests
        settings:
          port: {type: port, default: 7000}
        roles:
          - name: leaders
            count: {min: 1, max: 3, odd: true, default: 1}
            configure:
              - upload: toy.conf
                path: /etc/toy.conf
              - service: toy
                action: restart
                exec: [toyd, --config, /etc/toy.conf]
            join:
              - on: first
                run: [toy-init]
                creates: /var/lib/toy/initialised
              - on: first
                capture: token
                command: [toy-token]
                secret: true
            health:
              - wait: {port: "{{settings.port}}"}
          - name: members
            count: {min: 0, max: 1000, default: 2}
            configure:
              - upload: toy-member.conf
                path: /etc/toy.conf
                mode: "0600"
            join:
              - run: [toy-join, --config, /etc/toy.conf, "{{roles.leaders.first.address}}"]
                creates: /var/lib/toy/joined
            health:
              - via: leaders
                wait: {command: [toy-status, "{{machine.name}}"]}
            drain:
              - via: leaders
                run: [toy-drain, "{{machine.name}}"]
            remove:
              - run: [toy-leave]
        """

    public static let config = "name={{machine.name}}\nport={{settings.port}}\n"
    public static let memberConfig = "name={{machine.name}}\nport={{settings.port}}\ntoken={{captured.token}}\n"

    /// The token a member's configuration file holds, or nil.
    public static func token(inConfig text: String?) -> String? {
        text?.split(separator: "\n").first { $0.hasPrefix("token=") }.map { String($0.dropFirst("token=".count)) }
    }

    /// Writes the kind as `<directory>/toy/` and returns `directory`, ready for `KindCatalog.load`.
    @discardableResult
    public static func install(in directory: URL) throws -> URL {
        let folder = directory.appendingPathComponent("toy")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data((definition + "\n").utf8).write(to: folder.appendingPathComponent("kind.yaml"))
        try Data(config.utf8).write(to: folder.appendingPathComponent("toy.conf.mustache"))
        try Data(memberConfig.utf8).write(to: folder.appendingPathComponent("toy-member.conf.mustache"))
        return directory
    }
}
