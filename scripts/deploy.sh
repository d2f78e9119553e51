#!/usr/bin/env bash
# `npm run deploy [-- <pulumi up flags>]`: deploys a stack (default dev) from a fresh checkout.
# Uses the Pulumi backend you are logged in to; without one, a local file backend in
# .pulumi-state/ (git-ignored), so no Pulumi Cloud account is needed. Creates the stack on first
# use. Stack secrets are encrypted with PULUMI_CONFIG_PASSPHRASE on a local backend.
set -euo pipefail
cd "$(dirname "$0")/.."

stack="${AURA_STACK:-dev}"
command -v pulumi >/dev/null || { echo "Pulumi CLI not found: https://www.pulumi.com/docs/install/" >&2; exit 2; }
command -v docker >/dev/null || { echo "Docker with BuildKit is needed to build the images" >&2; exit 2; }

if [ -z "${PULUMI_BACKEND_URL:-}" ] && ! pulumi whoami >/dev/null 2>&1; then
  mkdir -p .pulumi-state
  export PULUMI_BACKEND_URL="file://$PWD/.pulumi-state"
  echo "Not logged in to a Pulumi backend: using the local state in .pulumi-state/"
  if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    echo "Set PULUMI_CONFIG_PASSPHRASE (it encrypts this stack's secrets in the local state)" >&2
    exit 2
  fi
fi

pulumi stack select "$stack" 2>/dev/null || pulumi stack init "$stack"
pulumi up --stack "$stack" "$@"
