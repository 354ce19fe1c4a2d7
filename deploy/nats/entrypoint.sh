#!/bin/sh
# Starts nats-server with one of deploy/nats/*.conf (the first argument). The
# configuration names environment variables for its passwords and, in a cluster, for
# the URLs of its peers' routes: they are set here from the compose secrets, so that no
# password is written in a file of the repository or shown in `docker inspect`.
set -eu

secrets="${BDG_SECRETS_DIR:-/run/secrets}"

read_secret() {
	if [ ! -s "$secrets/$1" ]; then
		echo "entrypoint: the secret $1 is missing or empty (run python deploy/compose_secrets.py)" >&2
		exit 1
	fi
	cat "$secrets/$1"
}

NATS_REGISTRY_PASSWORD="$(read_secret nats_registry_password)"
NATS_EVENTS_PASSWORD="$(read_secret nats_events_password)"
NATS_REPORTING_PASSWORD="$(read_secret nats_reporting_password)"
NATS_OPS_PASSWORD="$(read_secret nats_ops_password)"
export NATS_REGISTRY_PASSWORD NATS_EVENTS_PASSWORD NATS_REPORTING_PASSWORD NATS_OPS_PASSWORD

if [ -e "$secrets/nats_route_password" ]; then
	NATS_ROUTE_PASSWORD="$(read_secret nats_route_password)"
	export NATS_ROUTE_PASSWORD
	for node in 1 2 3; do
		export "NATS_ROUTE_TO_${node}=nats-route://route:${NATS_ROUTE_PASSWORD}@nats-${node}:6222"
	done
fi

exec nats-server --config "$1"
