#!/bin/bash
# A shell pipeline with data in flight: generate | pace | transform | sort | sha256sum.
# The generator writes as fast as it can; the pacing stage passes 100 lines on, reports
# to stdout directly (fd 3) and naps, so the pipe between them stays full (64 KiB) for
# most of the run: a checkpoint taken after the first reports finds bytes in flight. sort
# holds everything until its input ends; sha256sum prints one line at the very end.
# Short-lived processes (the naps) come and go meanwhile.
n=${1:-12000}
exec 3>&1
for ((i = 1; i <= n; i++)); do
	printf '%06d %06d ........................\n' "$i" $((i * i % 7919))
done | while IFS= read -r line; do
	printf '%s\n' "$line"
	if ((++k % 100 == 0)); then
		echo "passed $k" >&3
		sleep 0.03
	fi
done | awk '{ printf "%08d %s\n", ($1 * 7919) % 100003, $2 }' | sort | sha256sum
echo "pipeline done"
