# shellcheck shell=bash
# Shared part of <project>-pg-backup, <project>-pg-restore-drill and <project>-pg-restore (role pg_backup):
# loads the settings Ansible rendered into pg-backup.conf, then defines the helpers. Sourced, never run.
#
# The calling script sets PG_BACKUP_BASE ("<project>-pg-backup", from its own name) before sourcing this file.
# Settings file: $PG_BACKUP_CONF, by default /etc/<project>-pg-backup/pg-backup.conf.

# ---- settings rendered by Ansible (templates/pg-backup.conf.j2) ----------------------------
PG_BACKUP_CONF="${PG_BACKUP_CONF:-/etc/${PG_BACKUP_BASE:?}/pg-backup.conf}"
if [[ ! -r "$PG_BACKUP_CONF" ]]; then
  echo "${0##*/}: cannot read the settings file ${PG_BACKUP_CONF} (set PG_BACKUP_CONF or re-run playbooks/backups.yml)" >&2
  exit 1
fi
# shellcheck source=/dev/null  # rendered at deploy time from templates/pg-backup.conf.j2
. "$PG_BACKUP_CONF"
for _setting in PROJECT COMPOSE_DIR SERVICE DB_USER DATABASES BACKUP_DIR TEXTFILE_DIR AGE_RECIPIENTS \
    AGE_IDENTITY_FILE ON_FAILURE_COMMAND LOCK_TIMEOUT COMPRESS GLOBALS ROW_COUNTS KEEP_DAILY KEEP_WEEKLY \
    KEEP_MONTHLY KEEP_PRE_RESTORE KEEP_PRE_DEPLOY WEEKLY_DAY MONTHLY_DAY MAX_AGE OFFSITE OFFSITE_ENV_FILE RESTIC_REPO \
    RESTIC_PASSWORD_FILE_PATH RESTIC_FORGET_ARGS RCLONE_REMOTE RCLONE_CONFIG_FILE STRICT_SOURCE NO_OWNER; do
  if ! declare -p "$_setting" >/dev/null 2>&1; then
    echo "${0##*/}: ${PG_BACKUP_CONF} does not set ${_setting} (re-run playbooks/backups.yml)" >&2
    exit 1
  fi
done
unset _setting
LOCK_FILE="/run/lock/${PROJECT}-pg-backup.lock"

# ---- shared helpers ------------------------------------------------------------------
umask 077
export LC_ALL=C
TAG="${PROJECT}-$(basename "$0" | sed "s/^${PROJECT}-//")"

log() {
  printf '%s %s: %s\n' "$(date -u +%FT%TZ)" "$TAG" "$*" >&2
  # Under systemd stderr already reaches the journal; from cron, send it there (or syslog) too.
  if [[ -z "${JOURNAL_STREAM:-}" ]] && command -v logger >/dev/null 2>&1; then
    logger -t "$TAG" -- "$*" 2>/dev/null || true
  fi
}

die() {
  log "ERROR: $*"
  exit 1
}

take_lock() {
  mkdir -p "$(dirname "$LOCK_FILE")"
  exec 9>"$LOCK_FILE"
  if ! flock -w "$LOCK_TIMEOUT" 9; then
    log "another backup/drill/restore of ${PROJECT} still holds ${LOCK_FILE} after ${LOCK_TIMEOUT}s"
    exit 75
  fi
}

# Resolve the running postgres container of the compose project once; later calls use docker exec.
CID=""
resolve_container() {
  CID="$(docker compose --project-directory "$COMPOSE_DIR" ps -q "$SERVICE" 2>/dev/null | head -n1)" || true
  [[ -n "$CID" ]] || die "service '${SERVICE}' of the compose project in ${COMPOSE_DIR} is not running"
  [[ "$(docker inspect -f '{{.State.Running}}' "$CID")" == true ]] || die "container ${CID} is not running"
  if [[ -z "$DB_USER" ]]; then
    # Official image contract: POSTGRES_USER is the superuser (default postgres).
    DB_USER="$(docker exec "$CID" printenv POSTGRES_USER 2>/dev/null || true)"
    DB_USER="${DB_USER:-postgres}"
  fi
}

# Run a PostgreSQL client inside the container (stdin passed through).
pg() {
  docker exec -i -e PGOPTIONS="-c client_min_messages=warning" "$CID" "$@"
}

psql_q() {  # psql_q DB SQL -> unaligned tuples
  pg psql -U "$DB_USER" -d "$1" -AtqX -v ON_ERROR_STOP=1 -c "$2"
}

list_databases() {
  if ((${#DATABASES[@]})); then
    printf '%s\n' "${DATABASES[@]}"
  else
    psql_q postgres "SELECT datname FROM pg_database WHERE NOT datistemplate AND datallowconn
                     AND datname NOT LIKE '%\\_restore\\_check' ORDER BY 1"
  fi
}

# Row count of every table, one "schema.table<TAB>count" line each, sorted.
# shellcheck disable=SC2034  # used by the scripts that source this file
ROWCOUNT_SQL="SELECT format('%s.%s', n.nspname, c.relname) || chr(9) ||
  (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM ONLY %I.%I', n.nspname, c.relname), false, true, '')))[1]::text
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
  ORDER BY 1"

# The newest complete scheduled set (daily/weekly/monthly; safety sets from restores only by name),
# or the set named by $1: <tier>/<timestamp>, <timestamp> or an absolute path.
resolve_set() {
  local want="${1:-latest}" best="" cand
  if [[ "$want" == latest || -z "$want" ]]; then
    for cand in "$BACKUP_DIR"/{daily,weekly,monthly}/*/SHA256SUMS; do
      [[ -f "$cand" ]] || continue
      cand="$(dirname "$cand")"
      if [[ -z "$best" || "$(basename "$cand")" > "$(basename "$best")" ]]; then best="$cand"; fi
    done
  elif [[ "$want" == /* ]]; then
    best="$want"
  elif [[ -d "$BACKUP_DIR/$want" ]]; then
    best="$BACKUP_DIR/$want"
  else
    for cand in "$BACKUP_DIR"/{daily,weekly,monthly,pre-restore,pre-deploy}/"$want"; do
      [[ -d "$cand" ]] && { best="$cand"; break; }
    done
  fi
  [[ -n "$best" && -f "$best/SHA256SUMS" ]] || die "no complete backup set found for '${want}' under ${BACKUP_DIR}"
  printf '%s\n' "$best"
}

# Plain content of a (possibly .age) backup file on stdout.
read_backup_file() {
  case "$1" in
    *.age)
      [[ -n "$AGE_IDENTITY_FILE" && -r "$AGE_IDENTITY_FILE" ]] ||
        die "$1 is encrypted: set pg_backup_age_identity_file to a readable age identity"
      age --decrypt -i "$AGE_IDENTITY_FILE" "$1" ;;
    *) cat "$1" ;;
  esac
}

dump_file_for() {  # dump_file_for SETDIR DB
  local f
  for f in "$1/$2.dump" "$1/$2.dump.age"; do
    [[ -f "$f" ]] && { printf '%s\n' "$f"; return 0; }
  done
  die "no dump of database '$2' in $1"
}

# Write stdin to FILE atomically (temp name in the same directory, fsync, rename).
write_prom() {  # write_prom FILE  (content on stdin)
  local tmp
  mkdir -p "$TEXTFILE_DIR"
  tmp="$(mktemp "$1.XXXXXX")"
  cat >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$1"
}

json_str() {
  local s="${1//\\/\\\\}"
  printf '"%s"' "${s//\"/\\\"}"
}

run_failure_hook() {  # run_failure_hook MODE MESSAGE
  [[ -n "$ON_FAILURE_COMMAND" ]] || return 0
  PG_BACKUP_PROJECT="$PROJECT" PG_BACKUP_MODE="$1" PG_BACKUP_ERROR="$2" PG_BACKUP_HOST="$(hostname)" \
    timeout 120 bash -c "$ON_FAILURE_COMMAND" </dev/null || log "on-failure command exited with $?"
}
