#!/usr/bin/env bash
# Installs the Debian packages weft's tests and lab use, when they are missing.
set -euo pipefail
need=()
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v kubectl >/dev/null 2>&1 || echo "warning: kubectl is not installed; the kubectl tests will fail" >&2
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "error: missing Debian packages ${need[*]}; run as root or install them" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
