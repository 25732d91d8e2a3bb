#!/usr/bin/env bash
# Installs the browser the console's end-to-end tests drive: Debian's Chromium and its
# chromedriver, from the distribution's packages (never a browser build of its own). Prints the
# chromedriver path on its last line.
#
#   scripts/test-browser.sh            install when missing, print the driver's path
#
# The tests find the driver through PLANT_CHROMEDRIVER (or chromedriver on PATH). Under CI=true
# a browser that cannot be installed is a failure.
set -euo pipefail

driver=$(command -v chromedriver || true)
browser=$(command -v chromium || true)
if [[ -z "$driver" || -z "$browser" ]]; then
  printf '==> installing chromium and chromium-driver (Debian packages)\n' >&2
  if [[ $(id -u) -eq 0 ]]; then sudo=(); else sudo=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q >&2
  "${sudo[@]}" apt-get install -y -q --no-install-recommends chromium chromium-driver fonts-dejavu-core >&2
  driver=$(command -v chromedriver || true)
  browser=$(command -v chromium || true)
fi
if [[ -z "$driver" || -z "$browser" ]]; then
  printf 'chromium or chromedriver is still missing after the install\n' >&2
  exit 1
fi
"$browser" --version >&2 || true
printf '%s\n' "$driver"
