#!/bin/bash
# Runs the program given (a statically linked one, in the test) as a child of a shell
# under the agent: the shell joins the coordinator, the static program cannot.
echo "starting $(basename "$1")"
"$@"
echo "static program done"
