#!/bin/bash
# Installs the Debian 12 packages that building and testing role_cluster
# need.  Idempotent: asks apt only when something is missing.
set -euo pipefail

pkgs="build-essential postgresql-15 postgresql-client-15 postgresql-server-dev-15
      libpq-dev libxxhash-dev libipc-run-perl"

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done

if [ -n "$missing" ]; then
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
