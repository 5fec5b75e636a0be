import Foundation
import Kinds
import PhotonCore
import Testing

@Suite("Backups a kind declares")
struct BackupDeclarationTests {
    @Test("backup names the role, the file and what it is; the roles keep their backup and restore steps")
    func declared() throws {
        try withKindFolder(
            yaml: """
                kind: demo
                backup: {role: store, file: /var/lib/photon/backup/demo.db, description: demo snapshot}
                roles:
                  - name: store
                    count: {min: 1}
                    backup:
                      - run: [save, /var/lib/photon/backup/demo.db]
                    restore:
                      - run: [stop]
                      - run: [load, /var/lib/photon/backup/demo.db]
                """
        ) { folder in
            let kind = try KindLoader.load(folder: folder, name: "demo")
            #expect(kind.backup?.role == "store" && kind.backup?.file == "/var/lib/photon/backup/demo.db" && kind.backup?.description == "demo snapshot")
            #expect(kind.role("store")?.steps(in: .backup).count == 1 && kind.role("store")?.steps(in: .restore).count == 2)
        }
    }

    @Test("every mistake in a backup declaration is reported where it is")
    func mistakes() throws {
        #expect(
            try loadErrors(
                """
                kind: demo
                backup: {role: stor, file: /b}
                roles:
                  - name: store
                    count: {min: 1}
                """
            ) == ["kind.yaml:2:16: backup names role 'stor', which the kind does not have [help: did you mean 'store'?]"])
        #expect(
            try loadErrors(
                """
                kind: demo
                backup: {role: store, file: backup.db}
                roles:
                  - name: store
                    count: {min: 1}
                """
            ) == ["kind.yaml:2:29: backup.file is an absolute path on the machine, without templates or spaces"])
        let missing = try loadErrors(
            """
            kind: demo
            backup: {role: store, file: /b}
            roles:
              - name: store
                count: {min: 1}
            """)
        #expect(missing.contains { $0.contains("role store has no backup steps to leave the backup at /b") }, "\(missing)")
        #expect(missing.contains { $0.contains("no role has restore steps: a backup must say how it is restored") }, "\(missing)")
        let undeclared = try loadErrors(
            """
            kind: demo
            roles:
              - name: store
                count: {min: 1}
                restore:
                  - run: [load]
            """)
        #expect(undeclared.contains { $0.contains("role store has backup or restore steps, but the kind has no 'backup:' section") }, "\(undeclared)")
    }
}
