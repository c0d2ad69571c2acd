#!/usr/bin/env bash
# Installs the Debian packages weft's tests and lab use, when they are missing.
#   scripts/install-deps.sh        everything (tests and lab)
#   scripts/install-deps.sh lab    only what `weft up` needs
set -euo pipefail
mode=${1:-all}
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have ip || need+=(iproute2)
have nft || need+=(nftables)
have conntrack || need+=(conntrack)
have curl || need+=(curl)
have ping || need+=(iputils-ping)
have nsenter || need+=(util-linux)
have dig || need+=(bind9-dnsutils)
[ -x /usr/lib/cni/bridge ] || [ -x /opt/cni/bin/bridge ] || need+=(containernetworking-plugins)
# The container mount helper (src/kubelet/runtime/native) and the DNS UDP batch addon (dns/native).
have cc && have make || need+=(build-essential)
# The mesh addon (mesh/native) compiles against nghttp2's headers (the library is Node's own).
[ -f /usr/include/nghttp2/nghttp2.h ] || need+=(libnghttp2-dev)
if [ "$mode" != lab ]; then
  have etcd || need+=(etcd-server)
  have python3 || need+=(python3)  # test/helpers/programs/frames.py: raw frames for the anti-spoofing test
  have chromium || need+=(chromium)  # test/load/report-chromium.test.ts: report.html rendered in headless Chromium
  have tcpdump || need+=(tcpdump)  # test/e2e/mesh.test.ts: no plaintext on the underlay
  have iperf3 || need+=(iperf3)  # bench/mesh: single-stream throughput
  have kubectl || echo "warning: kubectl is not installed; the kubectl tests will fail" >&2
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "error: missing Debian packages ${need[*]}; run as root or install them" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
