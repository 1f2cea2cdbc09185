#!/usr/bin/env bash
# Start Debian's dockerd when no engine answers, and wait until it does (at most 60 s).
set -euo pipefail

if docker info >/dev/null 2>&1; then
    echo "start-dockerd: engine already running"
    exit 0
fi
command -v dockerd >/dev/null || { echo "start-dockerd: dockerd is not installed (apt-get install docker.io)" >&2; exit 3; }

setsid dockerd >/tmp/dockerd.log 2>&1 < /dev/null &
for _ in $(seq 1 60); do
    if [ -S /var/run/docker.sock ] && docker info >/dev/null 2>&1; then
        echo "start-dockerd: engine up ($(docker info --format '{{.ServerVersion}} {{.Driver}}'))"
        exit 0
    fi
    sleep 1
done
echo "start-dockerd: dockerd did not answer within 60 s; last lines of /tmp/dockerd.log:" >&2
tail -n 20 /tmp/dockerd.log >&2
exit 3
