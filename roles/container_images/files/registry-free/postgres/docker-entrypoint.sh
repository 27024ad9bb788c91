#!/usr/bin/env bash
# The official postgres image's entrypoint contract, for the registry-free image (runs as 999):
#   POSTGRES_PASSWORD / POSTGRES_USER / POSTGRES_DB (each also as *_FILE), POSTGRES_INITDB_ARGS,
#   POSTGRES_HOST_AUTH_METHOD (default scram-sha-256), PGDATA, /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz
#   run once on first initialisation, then `exec postgres "$@"` so postgres receives the signals.
set -Eeo pipefail

# file_env VAR [DEFAULT]: VAR or the contents of the file named by VAR_FILE (not both).
file_env() {
	local var="$1" fileVar="${1}_FILE" def="${2:-}" val
	if [ "${!var:-}" ] && [ "${!fileVar:-}" ]; then
		echo >&2 "error: both $var and $fileVar are set (but are exclusive)"
		exit 1
	fi
	val="$def"
	if [ "${!var:-}" ]; then
		val="${!var}"
	elif [ "${!fileVar:-}" ]; then
		val="$(< "${!fileVar}")"
	fi
	export "$var"="$val"
	unset "$fileVar"
}

log() { echo "$(date -u '+%F %T UTC') [entrypoint] $*"; }

setup_env() {
	file_env POSTGRES_PASSWORD
	file_env POSTGRES_USER postgres
	file_env POSTGRES_DB "$POSTGRES_USER"
	file_env POSTGRES_INITDB_ARGS
	: "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
	: "${PGDATA:=/var/lib/postgresql/data}"
	export PGDATA POSTGRES_HOST_AUTH_METHOD
	DATABASE_ALREADY_EXISTS=
	if [ -s "$PGDATA/PG_VERSION" ]; then
		DATABASE_ALREADY_EXISTS=true
	fi
}

create_dirs() {
	mkdir -p "$PGDATA"
	chmod 00700 "$PGDATA" 2>/dev/null || :
	mkdir -p /var/run/postgresql 2>/dev/null || :
	chmod 03775 /var/run/postgresql 2>/dev/null || :
}

verify_password() {
	if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
		cat >&2 <<-'MSG'
			Error: Database is uninitialized and superuser password is not specified.
			       Set POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) to a non-empty value, or
			       POSTGRES_HOST_AUTH_METHOD=trust to allow all connections without a password (not recommended).
		MSG
		exit 1
	fi
}

init_database_dir() {
	local pwfile
	pwfile="$(mktemp)"
	printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
	# shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a list of arguments
	initdb --username="$POSTGRES_USER" --pwfile="$pwfile" $POSTGRES_INITDB_ARGS
	rm -f "$pwfile"
}

setup_hba() {
	local encryption=md5
	if [ "$POSTGRES_HOST_AUTH_METHOD" = scram-sha-256 ]; then
		encryption=scram-sha-256
	fi
	{
		echo
		echo "# Any other connection must authenticate (docker-entrypoint.sh)."
		echo "host all all all $POSTGRES_HOST_AUTH_METHOD"
	} >>"$PGDATA/pg_hba.conf"
	echo "password_encryption = $encryption" >>"$PGDATA/postgresql.auto.conf"
}

temp_server_start() {
	# Only the unix socket while initialising: nothing outside can connect half-way.
	PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p ${PGPORT:-5432}" -w start
}

temp_server_stop() {
	PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -m fast -w stop
}

run_psql() {
	PGPASSWORD="$POSTGRES_PASSWORD" psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc "$@"
}

setup_db() {
	local exists
	# psql interpolates :'var' / :"var" only in what it reads, not in -c, so the SQL goes to stdin.
	exists="$(run_psql --dbname postgres --set db="$POSTGRES_DB" --tuples-only <<<"SELECT 1 FROM pg_database WHERE datname = :'db';")"
	if [ -z "${exists//[[:space:]]/}" ]; then
		run_psql --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
	fi
}

process_init_files() {
	local f
	for f in "$@"; do
		case "$f" in
			*.sh)
				if [ -x "$f" ]; then
					log "running $f"; "$f"
				else
					log "sourcing $f"
					# shellcheck disable=SC1090
					. "$f"
				fi
				;;
			*.sql) log "running $f"; run_psql --dbname "$POSTGRES_DB" -f "$f" ;;
			*.sql.gz) log "running $f"; gunzip -c "$f" | run_psql --dbname "$POSTGRES_DB" ;;
			*) log "ignoring $f" ;;
		esac
	done
}

main() {
	# `docker run image -c key=value` means `postgres -c key=value`.
	if [ "${1:0:1}" = '-' ]; then
		set -- postgres "$@"
	fi
	if [ "$1" = postgres ] && ! _is_help "$@"; then
		setup_env
		create_dirs
		# Started as root (docker run --user 0): own the data directory, then drop to postgres.
		if [ "$(id -u)" = 0 ]; then
			chown -R postgres:postgres "$PGDATA" /var/run/postgresql 2>/dev/null || :
			exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
		fi
		if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
			verify_password
			init_database_dir
			setup_hba
			export PGPASSWORD="$POSTGRES_PASSWORD"
			temp_server_start "$@"
			setup_db
			shopt -s nullglob
			process_init_files /docker-entrypoint-initdb.d/*
			shopt -u nullglob
			temp_server_stop
			unset PGPASSWORD
			log 'PostgreSQL init process complete; ready for start up.'
		else
			log 'PostgreSQL Database directory appears to contain a database; Skipping initialization'
		fi
	fi
	exec "$@"
}

_is_help() {
	local arg
	for arg; do
		case "$arg" in
			-'?' | --help | --describe-config | -V | --version) return 0 ;;
		esac
	done
	return 1
}

main "$@"
