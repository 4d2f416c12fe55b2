#!/usr/bin/env bash
# System packages the tests use, from Debian: chromium + chromium-driver for the
# report's browser test. Installed only where missing and where we are root;
# otherwise the browser test skips with its reason.
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${need[*]} for the browser test"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null &&
      apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
      echo "could not install ${need[*]}: the browser test will skip"
  else
    echo "not root: ${need[*]} missing, the browser test will skip"
  fi
fi
exit 0
