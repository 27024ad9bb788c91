"""The pg_backup settings file (templates/pg-backup.conf.j2) that the static scripts in
roles/pg_backup/files source: rendered with the role's defaults and with awkward values, then sourced
by bash, every setting must come back exactly as the role variable had it."""

import shutil
import subprocess

import pytest

from ansible_render import ROLES, render

# Every setting the scripts read (pg-backup-lib.sh checks the same list) and the role variable behind it.
SCALARS = {
    "PROJECT": "pg_backup_project",
    "COMPOSE_DIR": "pg_backup_compose_dir",
    "SERVICE": "pg_backup_service",
    "DB_USER": "pg_backup_db_user",
    "BACKUP_DIR": "pg_backup_dir",
    "TEXTFILE_DIR": "pg_backup_textfile_dir",
    "AGE_IDENTITY_FILE": "pg_backup_age_identity_file",
    "ON_FAILURE_COMMAND": "pg_backup_on_failure_command",
    "LOCK_TIMEOUT": "pg_backup_lock_timeout",
    "COMPRESS": "pg_backup_compress_level",
    "GLOBALS": "pg_backup_globals",
    "ROW_COUNTS": "pg_backup_row_counts",
    "KEEP_DAILY": "pg_backup_keep_daily",
    "KEEP_WEEKLY": "pg_backup_keep_weekly",
    "KEEP_MONTHLY": "pg_backup_keep_monthly",
    "KEEP_PRE_RESTORE": "pg_backup_keep_pre_restore",
    "KEEP_PRE_DEPLOY": "pg_backup_keep_pre_deploy",
    "WEEKLY_DAY": "pg_backup_weekly_day",
    "MONTHLY_DAY": "pg_backup_monthly_day",
    "MAX_AGE": "pg_backup_max_age",
    "OFFSITE": "pg_backup_offsite",
    "RESTIC_REPO": "pg_backup_restic_repository",
    "RESTIC_PASSWORD_FILE_PATH": "pg_backup_restic_password_file",
    "RESTIC_FORGET_ARGS": "pg_backup_restic_forget_args",
    "RCLONE_REMOTE": "pg_backup_rclone_remote",
    "RCLONE_CONFIG_FILE": "pg_backup_rclone_config_file",
    "STRICT_SOURCE": "pg_backup_drill_strict_source",
    "NO_OWNER": "pg_backup_restore_no_owner",
}
ARRAYS = {"DATABASES": "pg_backup_databases", "AGE_RECIPIENTS": "pg_backup_age_recipients"}
DERIVED = {"OFFSITE_ENV_FILE"}  # <config dir>/offsite.env, written by the role itself

TRICKY = {
    "pg_backup_project": "my-app_2",
    "pg_backup_compose_dir": "/srv/my stack/compose dir",
    "pg_backup_service": "db",
    "pg_backup_db_user": "o'brien",
    "pg_backup_databases": ["app", "with space", "it's", 'dq"x', "$HOME", "`id`", "tab\there", "semi;colon", "*"],
    "pg_backup_dir": "/var/backups/My Backups/$(touch /tmp/pwned)/pg",
    "pg_backup_textfile_dir": "/var/lib/node exporter/text'file",
    "pg_backup_age_recipients": ["age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq",
                                 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIexample user@host"],
    "pg_backup_age_identity_file": "/root/keys/age key.txt",
    "pg_backup_on_failure_command": "curl -fsS -m 10 --data \"$PG_BACKUP_ERROR\" 'https://hc.example/fail?it''s=1' "
                                    "&& echo \"it's ${PG_BACKUP_MODE}\" | logger -t 'pg backup' # done \\ \n second line",
    "pg_backup_lock_timeout": "45",
    "pg_backup_compress_level": 9,
    "pg_backup_globals": "no",
    "pg_backup_row_counts": False,
    "pg_backup_keep_daily": 14,
    "pg_backup_keep_weekly": 0,
    "pg_backup_keep_monthly": "12",
    "pg_backup_keep_pre_restore": 1,
    "pg_backup_keep_pre_deploy": 2,
    "pg_backup_weekly_day": 1,
    "pg_backup_monthly_day": 28,
    "pg_backup_max_age": "90m",
    "pg_backup_offsite": "restic",
    "pg_backup_restic_repository": "s3:https://s3.example.com/bucket name/demo",
    "pg_backup_restic_password_file": "/etc/my app/restic password",
    "pg_backup_restic_forget_args": "--keep-daily 7 --keep-tag 'keep me'",
    "pg_backup_rclone_remote": "remote:path with space/x",
    "pg_backup_rclone_config_file": "/etc/rclone/it's.conf",
    "pg_backup_drill_strict_source": "yes",
    "pg_backup_restore_no_owner": False,
}

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def shell_value(value):
    """What the scripts must see for a role variable: booleans as true/false, numbers as digits, text verbatim."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.lower() in ("yes", "no"):
        return "true" if value.lower() == "yes" else "false"
    return str(value)


def source(conf_path):
    """Source the file with bash (set -eu, like the scripts) and return {NAME: value or [values]}."""
    names = [*SCALARS, *DERIVED]
    script = (
        'set -euo pipefail; source "$1"; '
        + "".join(f"printf '%s\\0%s\\0' {n} \"${n}\"; " for n in names)
        + "".join(f"printf '%s\\0%s\\0' {n} \"${{#{n}[@]}}\"; "
                  f"if ((${{#{n}[@]}})); then printf '%s\\0' \"${{{n}[@]}}\"; fi; " for n in ARRAYS)
    )
    out = subprocess.run(["bash", "-c", script, "bash", str(conf_path)], capture_output=True, check=True).stdout
    fields = out.decode().split("\0")[:-1]
    values, i = {}, 0
    for n in names:
        assert fields[i] == n
        values[n] = fields[i + 1]
        i += 2
    for n in ARRAYS:
        assert fields[i] == n
        count = int(fields[i + 1])
        values[n] = fields[i + 2:i + 2 + count]
        i += 2 + count
    assert i == len(fields)
    return values


def rendered(tmp_path, extra=None):
    text = render("pg_backup", "pg-backup.conf.j2", extra)
    path = tmp_path / "pg-backup.conf"
    path.write_text(text)
    return path, text


def expected(extra=None):
    from ansible_render import templar

    t = templar(["pg_backup"], extra)
    return {name: t.template(t.available_variables[var]) if isinstance(t.available_variables[var], str)
            else t.available_variables[var] for name, var in {**SCALARS, **ARRAYS}.items()}


def test_defaults_round_trip(tmp_path):
    conf, _ = rendered(tmp_path)
    got = source(conf)
    want = expected()
    for name in SCALARS:
        assert got[name] == shell_value(want[name]), name
    assert got["DATABASES"] == [] and got["AGE_RECIPIENTS"] == []
    assert got["PROJECT"] == "demo"
    assert got["BACKUP_DIR"] == "/var/backups/demo/postgres"
    assert got["OFFSITE_ENV_FILE"] == "/etc/demo-pg-backup/offsite.env"
    assert got["RESTIC_FORGET_ARGS"] == "--keep-daily 7 --keep-weekly 4 --keep-monthly 6"
    assert got["GLOBALS"] == "true" and got["STRICT_SOURCE"] == "false" and got["NO_OWNER"] == "true"


def test_tricky_values_round_trip_exactly(tmp_path):
    conf, text = rendered(tmp_path, TRICKY)
    got = source(conf)
    for name, var in SCALARS.items():
        assert got[name] == shell_value(TRICKY[var]), name
    for name, var in ARRAYS.items():
        assert got[name] == TRICKY[var], name
    assert got["OFFSITE_ENV_FILE"] == "/etc/my-app_2-pg-backup/offsite.env"
    assert got["KEEP_WEEKLY"] == "0" and got["GLOBALS"] == "false" and got["STRICT_SOURCE"] == "true"
    assert "$(touch" in got["BACKUP_DIR"]  # kept literally, never run


def test_sourcing_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    extra = {**TRICKY, "pg_backup_dir": f"/x/$(touch {marker})", "pg_backup_service": f"`touch {marker}`",
             "pg_backup_databases": [f"$(touch {marker})"], "pg_backup_on_failure_command": f"touch {marker}"}
    conf, _ = rendered(tmp_path, extra)
    source(conf)
    assert not marker.exists()


def test_every_setting_is_checked_by_the_library():
    """pg-backup-lib.sh refuses a settings file that lacks one of them: its list must match this one."""
    lib = (ROLES / "pg_backup" / "files" / "pg-backup-lib.sh").read_text()
    checked = lib.split("for _setting in ", 1)[1].split("; do", 1)[0].replace("\\\n", " ").split()
    assert sorted(checked) == sorted([*SCALARS, *ARRAYS, *DERIVED])


def test_every_setting_line_names_its_role_variable():
    text = (ROLES / "pg_backup" / "templates" / "pg-backup.conf.j2").read_text()
    for name, var in {**SCALARS, **ARRAYS}.items():
        line = next(line for line in text.splitlines() if line.startswith(f"{name}="))
        assert var in line and "| quote" in line, line
