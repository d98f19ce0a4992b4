-- A schema-1 history store as linkaudit 0.1 wrote it, with two runs of data.
-- Frozen: never edit; the migration test opens it with the current code.
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    command TEXT NOT NULL,
    arguments TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    status TEXT NOT NULL,
    exit_code INTEGER,
    counts TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE checks (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    url TEXT NOT NULL,
    verdict TEXT NOT NULL,
    reason TEXT NOT NULL,
    status INTEGER,
    chain TEXT NOT NULL,
    final_url TEXT,
    permanent INTEGER,
    final_verdict TEXT,
    detail TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    checked_at REAL NOT NULL
);
CREATE INDEX checks_by_key ON checks (key, checked_at);
CREATE TABLE citations (
    key TEXT NOT NULL,
    url TEXT NOT NULL,
    path TEXT NOT NULL,
    line INTEGER NOT NULL,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    last_run INTEGER NOT NULL,
    PRIMARY KEY (key, path, line)
) WITHOUT ROWID;
CREATE TABLE findings (
    run_id INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    kind TEXT NOT NULL,
    path TEXT NOT NULL,
    line INTEGER NOT NULL,
    url TEXT,
    message TEXT NOT NULL,
    PRIMARY KEY (run_id, fingerprint)
) WITHOUT ROWID;

INSERT INTO runs VALUES (1, 'check', '["notes"]', 4242, 1000.0, 1100.0, 'finished', 0,
    '{"ok": 1, "redirected": 0, "failing": 1, "dead": 0}');
INSERT INTO runs VALUES (2, 'check', '["notes"]', 4243, 90000.0, 90100.0, 'finished', 1,
    '{"ok": 1, "redirected": 0, "failing": 1, "dead": 0}');
INSERT INTO checks VALUES (1, 1, 'https://a.example/', 'https://a.example/', 'ok', '', 200,
    '[["https://a.example/", 200]]', NULL, NULL, NULL, '200 OK', 1, 1010.0);
INSERT INTO checks VALUES (2, 1, 'https://b.example/x', 'https://b.example/x', 'dead', '404',
    404, '[["https://b.example/x", 404]]', NULL, NULL, NULL, '404 Not Found', 1, 1020.0);
INSERT INTO checks VALUES (3, 2, 'https://a.example/', 'https://a.example/', 'ok', '', 200,
    '[["https://a.example/", 200]]', NULL, NULL, NULL, '200 OK', 1, 90010.0);
INSERT INTO checks VALUES (4, 2, 'https://b.example/x', 'https://b.example/x', 'dead', '404',
    404, '[["https://b.example/x", 404]]', NULL, NULL, NULL, '404 Not Found', 1, 90020.0);
INSERT INTO citations VALUES ('https://b.example/x', 'https://b.example/x?utm_source=x',
    '_posts/en/2024-01-01-b-en.md', 7, 1000.0, 90000.0, 2);
INSERT INTO findings VALUES (2, 'abc', 'tracking', '_posts/en/2024-01-01-b-en.md', 7,
    'https://b.example/x?utm_source=x', 'tracking parameter utm_source');
PRAGMA user_version = 1;
