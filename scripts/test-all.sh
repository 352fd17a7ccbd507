#!/usr/bin/env bash
# Runs every Stasis test from a clean clone: installs the system packages the tests
# need (when root), creates the unprivileged user the tests also run as, builds, tests.
# The README's test command and .ci/run both call exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential python3 util-linux procps libzstd-dev)
if [ "$(id -u)" = 0 ]; then
	missing=()
	for p in "${packages[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "installing: ${missing[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
	fi
	# The end-to-end tests also run every scenario as this unprivileged user.
	user="${STASIS_TEST_USER:-stasis-test}"
	id "$user" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
else
	for tool in gcc make python3 setpriv; do
		command -v "$tool" >/dev/null || { echo "test-all: $tool is missing; install: ${packages[*]}" >&2; exit 1; }
	done
	[ -e /usr/include/zstd.h ] || { echo "test-all: libzstd-dev is missing; install: ${packages[*]}" >&2; exit 1; }
fi

npm ci --no-audit --no-fund
npm test
