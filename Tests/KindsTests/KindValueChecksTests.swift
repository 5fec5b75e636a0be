import Kinds
import PhotonCore
import Testing

// What a kind may do with values, checked when it loads: formats declared for its templates, secrets
// kept off command lines and out of paths, constant paths normalised, typed defaults well formed.

@Suite("Kind value checks")
struct KindValueChecksTests {
    @Test("formats: declared ones win over names; an unknown template or format is an error at its position")
    func formats() throws {
        let kind = try loadKind(
            """
            kind: demo
            formats:
              etcd: env
              conf.yaml: text
            roles:
              - name: nodes
                count: {min: 1}
            """, files: ["etcd.mustache": "A=\"{{machine.name}}\"\n", "conf.yaml.mustache": "x\n", "d.json.mustache": "{}\n"])
        #expect(kind.format(ofTemplate: "etcd") == .env)
        #expect(kind.format(ofTemplate: "conf.yaml") == .text)
        #expect(kind.format(ofTemplate: "d.json") == .json)
        let errors = try loadErrors(
            """
            kind: demo
            formats:
              etdc: env
              etcd: shell
            roles:
              - name: nodes
                count: {min: 1}
            """, files: ["etcd.mustache": "x\n"])
        #expect(
            errors == [
                "kind.yaml:3:3: formats names template 'etdc', which is not in <folder> [help: did you mean 'etcd'?]",
                "kind.yaml:4:9: expected one of json, yaml, toml, properties, env, haproxy, systemd, text, multiline for formats.etcd, found 'shell'",
            ])
    }

    @Test("a secret on a command line, in a service's command or in a path is refused where the step writes it")
    func secretsOffCommandLines() throws {
        let errors = try loadErrors(
            """
            kind: demo
            settings:
              key: {type: secret, default: generate}
            roles:
              - name: nodes
                count: {min: 1}
                join:
                  - on: first
                    capture: token
                    command: [make-token]
                    secret: true
                  - run: [join, --token, "{{captured.token}}"]
                  - service: agent
                    exec: [agent, "--key={{settings.key}}"]
                  - upload: conf
                    path: "/etc/{{settings.key}}.conf"
                  - capture: shown
                    command: [echo, "{{captured.token}}"]
            """, files: ["conf.mustache": "key={{settings.key}}\n"])
        #expect(
            errors == [
                "kind.yaml:12:31: a join step of role nodes puts the secret 'captured.token' on a command line, where every process on the machine can read it (ps) [help: upload it in a file with mode 0600 and give the command the file's path]",
                "kind.yaml:14:24: a join step of role nodes puts the secret 'settings.key' on a command line, where every process on the machine can read it (ps) [help: upload it in a file with mode 0600 and give the command the file's path]",
                "kind.yaml:16:16: a join step of role nodes puts the secret 'settings.key' in a path, and paths are shown in plans and logs [help: keep secrets in files' contents]",
                "kind.yaml:18:26: a join step of role nodes puts the secret 'captured.token' on a command line, where every process on the machine can read it (ps) [help: upload it in a file with mode 0600 and give the command the file's path]",
            ])
    }

    @Test("constant paths must be absolute and normalised; typed defaults must fit their type")
    func constantPathsAndDefaults() throws {
        let errors = try loadErrors(
            """
            kind: demo
            settings:
              dir: {type: path, default: var/lib/x}
              heap: {type: size, default: 1GiB}
              image: {type: image, default: "Registry/UPPER:tag"}
              domain: {type: domain, default: "cluster..local"}
            roles:
              - name: nodes
                count: {min: 1}
                configure:
                  - upload: conf
                    path: /etc/demo/../passwd
                  - run: [touch, /x]
                    creates: "etc/demo"
            """, files: ["conf.mustache": "x\n"])
        #expect(
            errors == [
                "kind.yaml:3:3: the default of setting 'dir' 'var/lib/x' is not absolute (it must start with '/') [help: type path expects an absolute path (like /var/lib/docker)]",
                "kind.yaml:4:3: the default of setting 'heap' '1GiB' has an unknown unit 'GiB' (use k, m or g) [help: type size expects a size (like 10m, 256m or 1g)]",
                "kind.yaml:5:3: the default of setting 'image' 'Registry/UPPER:tag' has a part 'Registry' that is not lowercase letters and digits separated by '.', '_', '__' or '-' [help: type image expects an image reference (like registry.k8s.io/pause:3.9)]",
                "kind.yaml:6:3: the default of setting 'domain' 'cluster..local' has a bad label '': it is empty [help: type domain expects a DNS domain (like cluster.local)]",
                "kind.yaml:12:15: the path '/etc/demo/../passwd' has a '..' part [help: write an absolute path without '.', '..', '//' or a trailing '/']",
                "kind.yaml:14:19: the path 'etc/demo' is not absolute (it must start with '/') [help: write an absolute path without '.', '..', '//' or a trailing '/']",
            ])
    }

    @Test("the shipped kinds keep every secret off command lines (they load, with this check on)")
    func shippedKindsLoad() throws {
        let catalog = try KindCatalog.load(directory: shippedTemplates)
        #expect(catalog.kinds["swarm"]?.format(ofTemplate: "daemon.json") == .json)
        #expect(catalog.kinds["kubernetes"]?.format(ofTemplate: "etcd") == .env)
        #expect(catalog.kinds["mesos"]?.format(ofTemplate: "zoo.cfg") == .properties)
        #expect(catalog.kinds["mesos"]?.format(ofTemplate: "zookeeper-environment") == .env)
        #expect(catalog.kinds["management"]?.format(ofTemplate: "haproxy.cfg") == .haproxy)
    }
}

@Suite("Kind value checks: certificates")
struct KindCertificateSecrecyTests {
    @Test("a machine's private key on a command line is refused like any secret; its certificate is not")
    func privateKeys() throws {
        let errors = try loadErrors(
            """
            kind: demo
            certificates:
              ca: {authority: true}
              member: {issuer: ca, roles: [nodes], usages: [server]}
            roles:
              - name: nodes
                count: {min: 1}
                configure:
                  - run: [check, "{{machine.certificates.member.certificate}}", "{{certificates.ca.certificate}}"]
                  - run: [serve, "--key={{machine.certificates.member.key}}"]
            """)
        #expect(
            errors == [
                "kind.yaml:10:23: a configure step of role nodes puts the secret 'machine.certificates.member.key' on a command line, where every process on the machine can read it (ps) [help: upload it in a file with mode 0600 and give the command the file's path]"
            ])
    }
}

@Suite("Kind value checks: shell scripts")
struct KindShellScriptTests {
    @Test("a value written into an sh -c script is refused; after the script, as a parameter, it is fine")
    func values() throws {
        let errors = try loadErrors(
            """
            kind: demo
            roles:
              - name: nodes
                count: {min: 1}
                configure:
                  - run: [sh, -c, "install -d \\"$1\\"", sh, "{{machine.name}}"]
                  - run: [sh, -c, "{{=<% %>=}}docker info --format '{{.Swarm}}'"]
                  - run: [sh, -ec, "echo {{machine.address}}"]
                    unless: [bash, -c, "{{> check}}"]
                  - wait: {command: [/bin/sh, -c, "{{#machine.first}}test -e {{machine.name}}{{/machine.first}}"]}
            """, files: ["check.mustache": "test -e /x/{{machine.name}}"])
        #expect(
            errors == [
                "kind.yaml:8:30: a configure step of role nodes writes 'machine.address' into a shell script, where the shell would parse it [help: pass the value after the script, as a positional parameter: [sh, -c, 'use \"$1\"', sh, \"{{…}}\"]]",
                "kind.yaml:9:29: a configure step of role nodes writes 'machine.name' into a shell script, where the shell would parse it [help: pass the value after the script, as a positional parameter: [sh, -c, 'use \"$1\"', sh, \"{{…}}\"]]",
                "kind.yaml:10:66: a configure step of role nodes writes 'machine.name' into a shell script, where the shell would parse it [help: pass the value after the script, as a positional parameter: [sh, -c, 'use \"$1\"', sh, \"{{…}}\"]]",
            ])
    }
}
