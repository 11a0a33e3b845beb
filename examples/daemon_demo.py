"""`make demo`, part two: the daemon, on the built-in sandbox and a temporary folder.

Starts `syncd run --sandbox --directory DIR` (no account, no systemd), drops the example
exports into DIR the way a browser does (one arrives under a temporary `.crdownload` name and
is renamed when complete), waits until the daemon has imported them, shows `syncd status`,
and stops the daemon with SIGTERM, as systemd would.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent
SYNCD = [sys.executable, "-m", "syncd"]


def status(env: dict[str, str]) -> dict[str, object] | None:
    proc = subprocess.run(
        [*SYNCD, "status", "--sandbox", "--json"], env=env, capture_output=True, text=True
    )
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        return None


def wait(env: dict[str, str], what: str, check: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = status(env)
        if s is not None and check(s):  # type: ignore[operator]
            return
        time.sleep(0.5)
    raise SystemExit(f"demo: the daemon did not {what} within {timeout:.0f} s")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="syncd-demo-") as tmp:
        root = Path(tmp)
        downloads = root / "Downloads"
        downloads.mkdir()
        # A sandbox and state of the demo's own, so that the daemon finds new articles.
        env = {**os.environ, "XDG_STATE_HOME": str(root / "state")}
        print(f"== syncd run --sandbox, watching {downloads} ==", flush=True)
        daemon = subprocess.Popen(
            [*SYNCD, "run", "--sandbox", "--directory", str(downloads)], env=env
        )
        try:
            wait(env, "start", lambda s: s.get("running"))
            exports = sorted(EXAMPLES.glob("*.nbib"))
            first, rest = exports[0], exports[1:]
            partial = downloads / "Unconfirmed 194733.crdownload"
            print(f"\n== a browser downloads {first.name} (as {partial.name}, then renamed) ==\n")
            partial.write_bytes(first.read_bytes()[:200])
            time.sleep(1.0)
            partial.write_bytes(first.read_bytes())
            partial.rename(downloads / first.name)
            for export in rest:
                print(f"== {export.name} lands in the folder ==", flush=True)
                shutil.copy(export, downloads / export.name)
            wait(env, "import the examples", lambda s: len(s["last_files"]) >= len(exports))
            print("\n== syncd status --sandbox ==\n", flush=True)
            subprocess.run([*SYNCD, "status", "--sandbox"], env=env)
        finally:
            print("\n== SIGTERM (what `systemctl --user stop syncd` sends) ==\n", flush=True)
            daemon.send_signal(signal.SIGTERM)
            code = daemon.wait(timeout=30)
        print(f"\nsyncd run exited {code}.")
        return code


if __name__ == "__main__":
    sys.exit(main())
