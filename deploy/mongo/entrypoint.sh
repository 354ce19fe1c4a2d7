#!/bin/bash
# Starts a replica-set member with internal authentication by keyFile. mongod refuses a
# keyFile that others can read, and a compose secret keeps the host file's mode and
# owner, so the key is copied first with mode 0400 for the mongodb user. The rest is the
# official image's entrypoint (which creates the root user and runs
# /docker-entrypoint-initdb.d on the first start of an empty member).
set -euo pipefail

secrets="${BDG_SECRETS_DIR:-/run/secrets}"
install -m 0400 -o mongodb -g mongodb "$secrets/mongo_keyfile" /tmp/mongo-keyfile

exec docker-entrypoint.sh mongod --replSet rs0 --bind_ip_all --keyFile /tmp/mongo-keyfile "$@"
