#!/bin/sh
# Like the official image: a first argument that is a flag goes to redis-server, and the
# server runs as the redis user, listening on every interface, in the foreground.
set -eu
case "${1:-}" in
  -*) set -- redis-server "$@" ;;
esac
if [ "$1" = redis-server ]; then
  shift
  chown -R redis:redis /data
  exec setpriv --reuid=redis --regid=redis --init-groups \
    redis-server --bind 0.0.0.0 --protected-mode no --daemonize no --dir /data "$@"
fi
exec "$@"
