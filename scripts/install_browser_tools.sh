#!/usr/bin/env bash
# The browser tests drive JupyterLab with Debian's headless Chromium and its chromedriver;
# the emoji font lets the screenshots show the Locks' 🔒/🔓/✅ instead of empty boxes.
# Idempotent: installs only what is missing, with apt-get when run as root; otherwise says
# what to install. Never downloads a browser from anywhere else.
set -euo pipefail
EMOJI=/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf
if command -v chromium >/dev/null && command -v chromedriver >/dev/null && [ -f "$EMOJI" ]; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-noto-color-emoji >/dev/null
    exit 0
fi
echo "the browser tests need Debian's chromium and chromium-driver:" >&2
echo "  sudo apt-get install chromium chromium-driver fonts-noto-color-emoji" >&2
command -v chromium >/dev/null && command -v chromedriver >/dev/null
