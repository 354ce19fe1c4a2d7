#!/bin/sh
# Starts nats-server with one of deploy/nats/*.conf (the first argument). The
# configuration names environment variables for its passwords and, in a cluster, for
# the URLs of its peers' routes: they are set here from the compose secrets, so that no
# password is written in a file of the repository or shown in `docker inspect`.
# nats-server parses a variable's value as configuration (`-x…` or `12…` would be read
# as a number), so each value is given as a quoted string; a secret therefore must not
# contain a double quote or a backslash (deploy/compose_secrets.py makes none).
set -eu

secrets="${BDG_SECRETS_DIR:-/run/secrets}"

read_secret() {
	if [ ! -s "$secrets/$1" ]; then
		echo "entrypoint: the secret $1 is missing or empty (run python deploy/compose_secrets.py)" >&2
		exit 1
	fi
	value="$(cat "$secrets/$1")"
	case "$value" in
	*'"'* | *'\'*)
		echo "entrypoint: the secret $1 contains a double quote or a backslash" >&2
		exit 1
		;;
	esac
	printf '"%s"' "$value"
}

NATS_REGISTRY_PASSWORD="$(read_secret nats_registry_password)"
NATS_EVENTS_PASSWORD="$(read_secret nats_events_password)"
NATS_REPORTING_PASSWORD="$(read_secret nats_reporting_password)"
NATS_OPS_PASSWORD="$(read_secret nats_ops_password)"
export NATS_REGISTRY_PASSWORD NATS_EVENTS_PASSWORD NATS_REPORTING_PASSWORD NATS_OPS_PASSWORD

if [ -e "$secrets/nats_route_password" ]; then
	NATS_ROUTE_PASSWORD="$(read_secret nats_route_password)"
	export NATS_ROUTE_PASSWORD
	route_password="$(cat "$secrets/nats_route_password")"
	for node in 1 2 3; do
		export "NATS_ROUTE_TO_${node}=\"nats-route://route:${route_password}@nats-${node}:6222\""
	done
fi

exec nats-server --config "$1"
