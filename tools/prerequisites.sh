#!/bin/sh
# `make setup` runs this first: one line naming what to install for each missing tool, exit 1.
# Usage: tools/prerequisites.sh PYTHON (the interpreter make will use, default python3).
python=${1:-python3}
missing=0
say() { echo "error: $*" >&2; missing=1; }
if ! command -v "$python" >/dev/null 2>&1; then
  say "make synth needs $python (Python 3.11): install it (Debian/Ubuntu: apt install python3.11 python3.11-venv), or pass PYTHON=/path/to/python3.11"
elif ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  say "make synth needs Python 3.11 or newer, $python is $("$python" -c 'import platform; print(platform.python_version())'): install python3.11 and pass PYTHON=python3.11"
elif ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
  say "make synth needs Python's venv module for $python: install python3-venv (Debian/Ubuntu: apt install python$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')-venv)"
fi
command -v node >/dev/null 2>&1 || say "make synth needs Node.js (20 or newer) and npm: install them (https://nodejs.org, or Debian/Ubuntu: apt install nodejs npm)"
command -v npm >/dev/null 2>&1 || { command -v node >/dev/null 2>&1 && say "make synth needs npm (it installs the cdktf CLI): install npm (Debian/Ubuntu: apt install npm)"; }
exit "$missing"
