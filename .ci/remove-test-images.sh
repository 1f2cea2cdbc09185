#!/usr/bin/env bash
# Remove the images the test suite built, and only those: never `docker image prune` (on a shared engine or a
# developer's workstation, other dangling images are other people's data).
#   bash .ci/remove-test-images.sh            images labelled envcapture.test=1 (tagged or dangling), and the
#                                             test-only names of images built without a label (packer's)
#   bash .ci/remove-test-images.sh LABEL      only the images carrying LABEL (key=value)
# The tests label what they build (tests/conftest.py sets ENVCAPTURE_IMAGE_LABELS=envcapture.test=1, which
# envcapture's docker builder honours). The local base image carries no such label and stays: it is slow to make.
set -uo pipefail

label="${1:-envcapture.test=1}"
docker images --quiet --no-trunc --filter "label=$label" | sort -u | xargs -r docker rmi -f >/dev/null 2>&1 || true
if [ "$#" -eq 0 ]; then
    docker images --format '{{.Repository}}:{{.Tag}}' \
        | grep -E '^(envcapture-reproduction|envcapture/reproduce|envcapture-test/(e2e-|generated-|build:|fail:))' \
        | xargs -r docker rmi -f >/dev/null 2>&1 || true
fi
exit 0
