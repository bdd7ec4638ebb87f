"""Backups that restore: pg_dump/pg_restore (custom format) for PostgreSQL, the online backup API for SQLite.

Why a command and not only a runbook line: a restore is only good if the audit trail still verifies
afterwards, and the trail's checkpoints live outside the database. A restored database is older than
the newest checkpoints, which `audit verify` would rightly call truncation; `restore` keeps the
checkpoint lines the restored rows still satisfy, moves the whole old file aside as evidence of what
was lost, and then runs the verification itself.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from tip_cases import audit
from tip_cases.extensions import db, utcnow
from tip_cases.models import AuditEvent


class BackupError(RuntimeError):
    """The backup or restore could not be done; the message says what to fix."""


@dataclass
class RestoreResult:
    verified: bool
    message: str
    checkpoints_kept: int
    checkpoints_set_aside: Path | None


def default_path(now: datetime, backend: str) -> Path:
    return Path(f"tsela-{now:%Y%m%dT%H%M%SZ}.{'dump' if backend == 'postgresql' else 'sqlite'}")


def backend() -> str:
    return db.engine.url.get_backend_name()


def _pg_env_and_args() -> tuple[dict[str, str], list[str]]:
    """Connection settings for the client tools; the password goes in the environment, never in argv."""
    url = make_url(db.engine.url.render_as_string(hide_password=False))
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    args = ["--host", url.host or "localhost", "--port", str(url.port or 5432),
            "--username", url.username or "postgres", "--dbname", url.database or "postgres"]
    return env, args


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client-15)")
    return found


def _check_pg_versions(tool: str) -> None:
    """pg_dump refuses a newer server, and an older one's output may not restore: say which to install."""
    out = subprocess.run([tool, "--version"], capture_output=True, text=True, check=True).stdout  # noqa: S603
    client = int(re.search(r"(\d+)(?:\.\d+)?", out).group(1))
    server = int(db.session.execute(text("SHOW server_version_num")).scalar_one()) // 10000
    db.session.rollback()
    if client < server:
        raise BackupError(f"{Path(tool).name} is version {client} but the server is PostgreSQL {server}; "
                          f"install postgresql-client-{server}")


def _run(cmd: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)  # noqa: S603 - a found tool, our args
    if result.returncode != 0:
        raise BackupError(f"{Path(cmd[0]).name} failed (exit {result.returncode}): {result.stderr.strip()[-2000:]}")


def _sqlite_file() -> Path:
    return Path(db.engine.url.database)


def create(path: Path) -> Path:
    """Write a consistent copy of the whole database to `path` (refuses to overwrite a file)."""
    if path.exists():
        raise BackupError(f"{path} already exists; choose a new file")
    path.parent.mkdir(parents=True, exist_ok=True)
    if backend() == "postgresql":
        tool = _tool("pg_dump")
        _check_pg_versions(tool)
        env, args = _pg_env_and_args()
        _run([tool, "--format=custom", "--no-owner", "--no-privileges", "--file", str(path), *args], env)
    else:
        db.session.commit()
        with sqlite3.connect(_sqlite_file()) as src, sqlite3.connect(path) as dst:
            src.backup(dst)  # a page-by-page copy that is consistent while the app keeps writing
        dst.close()
        src.close()
    path.chmod(0o600)  # victim data: readable by the service account only
    return path


def _restore_script(tool: str, path: Path, env: dict[str, str], args: list[str]) -> None:
    """pg_restore's script, run by psql in one transaction after dropping crossings with its partitions.

    `pg_restore --clean` cannot drop the constraints a partition inherits from its parent (crossings is
    partitioned by month, screening.partitions), so the table goes first, with its partitions, and the
    script's own drops of them find nothing; the script streams through a pipe, never to disk. Any error
    rolls the whole restore back.
    """
    psql = _tool("psql")
    dump = subprocess.Popen([tool, "--clean", "--if-exists", "--no-owner", "--no-privileges", "--file", "-",  # noqa: S603
                             str(path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    result = subprocess.run([psql, "--no-psqlrc", "--quiet", "--single-transaction", "-v", "ON_ERROR_STOP=1",  # noqa: S603
                             "-c", "DROP TABLE IF EXISTS public.crossings CASCADE", "-f", "-", *args],
                            env=env, stdin=dump.stdout, capture_output=True, text=True)
    dump.stdout.close()
    dump_err = dump.stderr.read().decode(errors="replace")
    dump.stderr.close()
    dump.wait()
    if dump.returncode != 0:
        raise BackupError(f"pg_restore failed (exit {dump.returncode}): {dump_err.strip()[-2000:]}")
    if result.returncode != 0:
        raise BackupError(f"psql failed (exit {result.returncode}): {result.stderr.strip()[-2000:]}")


def _restore_database(path: Path) -> None:
    db.session.remove()
    db.engine.dispose()  # no pooled connection may hold a lock on a table about to be replaced
    if backend() == "postgresql":
        tool = _tool("pg_restore")
        _check_pg_versions(tool)
        db.session.remove()
        db.engine.dispose()
        env, args = _pg_env_and_args()
        _restore_script(tool, path, env, args)
    else:
        with sqlite3.connect(path) as src:
            if src.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError(f"{path} is not an intact SQLite database")
            dst = sqlite3.connect(_sqlite_file())
            try:
                src.backup(dst)
            finally:
                dst.close()
        src.close()


def _trim_checkpoints(now: datetime) -> tuple[int, Path | None]:
    """Keep the checkpoint lines whose rows are all in the restored trail; set the whole old file aside.

    The file is a chain of lines, so only a prefix can be kept: it ends at the last checkpoint that
    covers no row beyond the restored trail's newest one."""
    path = audit.checkpoint_path()
    if not path.exists():
        return 0, None
    last_id = db.session.scalar(select(func.max(AuditEvent.id))) or 0
    count = db.session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    parsed = audit.read_checkpoints(path)
    kept = 0
    for cp in parsed.checkpoints:
        if cp.last_id > last_id or cp.rows > count:
            break
        kept += 1
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    if kept == len(parsed.checkpoints) and not parsed.problems:
        return kept, None
    aside = path.with_name(f"{path.name}.before-restore-{now:%Y%m%dT%H%M%SZ}")
    shutil.copy2(path, aside)
    keep_to = parsed.checkpoints[kept - 1].line_no if kept else 0
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(lines[:keep_to]), encoding="utf-8")
    tmp.chmod(path.stat().st_mode & 0o777)  # the operator's permissions on the checkpoint file stay
    tmp.replace(path)
    return kept, aside


def _check_checkpoints_before_restore() -> None:
    """Refuse before anything changes when the checkpoint file fails its signatures or chain.

    Trimming rewrites the file, so a tampered file would be cut (and the evidence of the tampering
    with it) by the restore; the operator must look at it first. Nothing is changed on refusal."""
    path = audit.checkpoint_path()
    parsed = audit.read_checkpoints(path)
    if parsed.problems:
        listed = "\n".join(f"- {p}" for p in parsed.problems[:10])
        raise BackupError(
            f"refusing to restore: the audit checkpoint file {path} does not verify, and the restore would "
            f"rewrite it. Nothing was changed.\n{listed}\nKeep the file as evidence (copy it elsewhere), "
            "investigate, then move it aside and run the restore again.")


def restore(path: Path) -> RestoreResult:
    """Replace the database with the backup at `path`, reconcile the checkpoints, then verify the trail.

    The checkpoint file is checked first (signatures, sequence, links): a restore never trims a file
    it has not verified."""
    if not path.is_file():
        raise BackupError(f"{path} does not exist")
    _check_checkpoints_before_restore()
    now = utcnow()
    _restore_database(path)
    kept, aside = _trim_checkpoints(now)
    audit.record("backup.restored", detail={"file": path.name, "checkpoints_kept": kept})
    db.session.commit()
    ok, _count, message = audit.verify()
    return RestoreResult(ok, message, kept, aside)
