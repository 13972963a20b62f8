#!/bin/sh
# Runs a shell command with LSL confined to this machine: a private network namespace that has
# only the loopback interface (nothing can leave the machine, whatever LSL tries), and LSLAPICFG
# set to the loopback-only configuration next to this script (inherited by every process of
# the command, background ones included). Needs root (or unprivileged user namespaces).
# usage: sh .ci/lsl/run-local.sh 'producer & consumer; wait'
here=$(cd "$(dirname "$0")" && pwd)
LSLAPICFG=$here/lsl_api.cfg
export LSLAPICFG
exec unshare -n sh -c "ip link set lo up || exit 1
$1"
