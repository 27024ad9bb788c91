#!/bin/sh
# Official redis image behaviour, minus the privilege drop (the image already runs as redis):
# a first argument that is an option or a .conf file means "redis-server <args>", and protected
# mode defaults to off (as in the official build) unless the arguments or the config file set it.
set -e

if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
	set -- redis-server "$@"
fi

if [ "$1" = redis-server ]; then
	protected=
	for arg in "$@"; do
		case "$arg" in
			--protected-mode) protected=yes ;;
		esac
		if [ -f "$arg" ] && [ -r "$arg" ] && grep -Eqi '^[[:space:]]*protected-mode[[:space:]]' "$arg"; then
			protected=yes
		fi
	done
	if [ -z "$protected" ]; then
		set -- "$@" --protected-mode no
	fi
	umask 0077
fi

exec "$@"
