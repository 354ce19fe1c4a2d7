#!/bin/bash
# Health of a replica-set member, run by compose every few seconds.
#   healthcheck.sh primary <member host:port>...   the first member: initiates the set
#       with these members if needed, healthy once it is the writable primary
#   healthcheck.sh member                           another member: healthy once it answers
# mongosh exits 0 whatever --eval evaluates to, so the exit code is set explicitly.
set -euo pipefail

if [ "$1" = "member" ]; then
	exec mongosh --quiet --eval 'quit(db.adminCommand({ ping: 1 }).ok ? 0 : 1)'
fi

shift
members=""
index=0
for host in "$@"; do
	# The first member is preferred as primary while it is up.
	priority=$([ "$index" -eq 0 ] && echo 2 || echo 1)
	members="${members}{ _id: ${index}, host: '${host}', priority: ${priority} },"
	index=$((index + 1))
done

secrets="${BDG_SECRETS_DIR:-/run/secrets}"
exec mongosh --quiet --username root --password "$(cat "$secrets/mongo_root_password")" \
	--authenticationDatabase admin --eval "
		try { rs.status() } catch (e) { rs.initiate({ _id: 'rs0', members: [${members}] }) };
		quit(db.hello().isWritablePrimary ? 0 : 1)"
