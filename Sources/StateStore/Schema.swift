import GRDB

/// The database's schema, as named migrations. Migrations are append-only: a released one is never
/// edited or removed, a change is a new migration registered after the others. A file holding a
/// migration this list does not know was written by a newer photon and is refused, never touched.
enum Schema {
    /// `PRAGMA application_id` of every photon state file ("PHOT"): how a photon state file is told
    /// from any other SQLite database.
    static let applicationID: Int32 = 0x5048_4F54

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        // A migration runs in the transaction that records it; foreign keys are checked at its end.
        migrator.registerMigration("v1-initial") { db in
            try db.execute(sql: "PRAGMA application_id = \(applicationID)")
            try db.execute(
                sql: """
                    -- One row: which deployment this is, and the serial every change of recorded state increments.
                    CREATE TABLE meta (
                        id INTEGER PRIMARY KEY CHECK (id = 1),
                        deployment TEXT NOT NULL,
                        serial INTEGER NOT NULL DEFAULT 0 CHECK (serial >= 0),
                        created_at DATETIME NOT NULL
                    );

                    CREATE TABLE machine (
                        name TEXT PRIMARY KEY NOT NULL,
                        group_name TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        role TEXT NOT NULL,
                        machine_index INTEGER NOT NULL,
                        -- Empty until the driver reports one when photon did not allocate it.
                        address TEXT NOT NULL DEFAULT '',
                        port INTEGER,
                        ssh_user TEXT,
                        host_key_fingerprint TEXT,
                        driver_id TEXT,
                        lifecycle TEXT NOT NULL CHECK (lifecycle IN ('creating', 'bringing-up', 'ready', 'deleting')),
                        updated_at DATETIME NOT NULL
                    );

                    -- What was last pushed to a machine; content is NULL for sensitive files.
                    CREATE TABLE machine_file (
                        machine TEXT NOT NULL REFERENCES machine(name) ON DELETE CASCADE ON UPDATE CASCADE,
                        path TEXT NOT NULL,
                        sha256 TEXT NOT NULL,
                        mode INTEGER NOT NULL,
                        content TEXT,
                        uploaded_at DATETIME NOT NULL,
                        PRIMARY KEY (machine, path)
                    ) WITHOUT ROWID;

                    -- Bring-up and tear-down actions finished on a machine that is not ready: what a resume skips.
                    CREATE TABLE completed_action (
                        machine TEXT NOT NULL REFERENCES machine(name) ON DELETE CASCADE ON UPDATE CASCADE,
                        action_id TEXT NOT NULL,
                        completed_at DATETIME NOT NULL,
                        PRIMARY KEY (machine, action_id)
                    ) WITHOUT ROWID;

                    -- Values captured from steps' output. A secret one is kept only sealed (AES-GCM, key in secrets.key).
                    CREATE TABLE captured_value (
                        group_name TEXT NOT NULL,
                        name TEXT NOT NULL,
                        secret BOOLEAN NOT NULL,
                        value TEXT,
                        sealed BLOB,
                        captured_at DATETIME NOT NULL,
                        PRIMARY KEY (group_name, name),
                        CHECK ((secret = 0 AND value IS NOT NULL AND sealed IS NULL) OR (secret = 1 AND value IS NULL AND sealed IS NOT NULL))
                    ) WITHOUT ROWID;

                    -- Values photon generated for `generate` secrets, always sealed.
                    CREATE TABLE generated_secret (
                        key TEXT PRIMARY KEY NOT NULL,
                        sealed BLOB NOT NULL,
                        generated_at DATETIME NOT NULL
                    ) WITHOUT ROWID;

                    CREATE TABLE run (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        command TEXT NOT NULL,
                        started_at DATETIME NOT NULL,
                        finished_at DATETIME,
                        status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
                        blueprint_digest TEXT,
                        plan_summary TEXT,
                        -- The process that ran it and the lock it held: how a run left running by a crash is recognised.
                        pid INTEGER NOT NULL,
                        host TEXT NOT NULL,
                        lock_id TEXT
                    );

                    CREATE TABLE journal (
                        run_id INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
                        seq INTEGER NOT NULL CHECK (seq > 0),
                        action_id TEXT NOT NULL,
                        machine TEXT NOT NULL,
                        status TEXT NOT NULL CHECK (status IN ('started', 'succeeded', 'failed', 'skipped', 'interrupted')),
                        at DATETIME NOT NULL,
                        message TEXT,
                        stderr_tail TEXT,
                        attempt INTEGER NOT NULL,
                        PRIMARY KEY (run_id, seq)
                    ) WITHOUT ROWID;

                    CREATE TABLE applied_blueprint (
                        id INTEGER PRIMARY KEY CHECK (id = 1),
                        bytes BLOB NOT NULL,
                        digest TEXT NOT NULL,
                        applied_at DATETIME NOT NULL
                    );

                    -- At most one row: the process allowed to change the deployment.
                    CREATE TABLE lock (
                        id INTEGER PRIMARY KEY CHECK (id = 1),
                        holder_id TEXT NOT NULL,
                        pid INTEGER NOT NULL,
                        host TEXT NOT NULL,
                        command TEXT NOT NULL,
                        since DATETIME NOT NULL
                    );
                    """)
        }
        // Counts set by `photon scale`, with the blueprint's count they replaced: while the blueprint still
        // says that, the scaled count stands (the three-way merge); once it says something else, it wins.
        migrator.registerMigration("v2-scaled-count") { db in
            try db.execute(
                sql: """
                    CREATE TABLE scaled_count (
                        group_name TEXT NOT NULL,
                        role TEXT NOT NULL,
                        count INTEGER NOT NULL CHECK (count >= 0),
                        base_count INTEGER NOT NULL CHECK (base_count >= 0),
                        scaled_at DATETIME NOT NULL,
                        PRIMARY KEY (group_name, role)
                    ) WITHOUT ROWID;
                    """)
        }
        // Register later migrations here, after the others, with a new name ("v3-…").
        return migrator
    }

    /// The names of the migrations this photon knows, in order.
    static var knownMigrations: [String] { migrator.migrations }
}
