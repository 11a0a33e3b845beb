"""`make demo`, part four: the Zotero desktop app as the target, against its double.

Starts the double of Zotero 10's local API (`syncd sandbox --desktop` serves the same) in this
process, runs `syncd setup --desktop --yes --config <temp> --no-service --desktop-url <double>`
(the double answers Zotero's dialog "Always Allow"; setup writes a config with `target =
"desktop"` and the app's key file, then runs doctor's checks) and runs `syncd import` as a user
would: the examples go in; the same import again writes nothing; Zotero is then closed
(the import says so and keeps the records pending) and opened again (the next import lands
them, each once); `syncd status` shows the app's library.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from syncd.sandbox.desktop import DesktopDouble

EXAMPLES = Path(__file__).resolve().parent
SYNCD = [sys.executable, "-m", "syncd"]


def syncd(env: dict[str, str], *args: str) -> int:
    print(f"\n$ syncd {' '.join(args)}", flush=True)
    return subprocess.run([*SYNCD, *args], env=env, check=False).returncode


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="syncd-desktop-demo-") as tmp, DesktopDouble() as app:
        root = Path(tmp)
        config = root / "config.toml"
        print(f"The Zotero app's double listens at {app.url} (its dialog: Always Allow)")
        # Everything setup writes (config, key file) and the state stay in the temporary folder.
        env = {
            **os.environ,
            "SYNCD_CONFIG": str(config),
            "XDG_CONFIG_HOME": str(root / "cfg"),
            "XDG_STATE_HOME": str(root / "state"),
        }
        env.pop("ZOTERO_API_KEY", None)
        setup = ["setup", "--desktop", "--yes", "--no-service", "--config", str(config)]
        setup += ["--desktop-url", app.url, "--directory", str(root / "inbox")]
        if syncd(env, *setup) != 0:
            return 1
        nbib = str(EXAMPLES / "pubmed-sample.nbib")
        if syncd(env, "import", nbib) != 0:
            return 1
        print("\n== the same import again: nothing is written ==")
        syncd(env, "import", nbib)
        print("\n== Zotero is closed: the records wait, pending ==")
        app.stop()
        app.state.cancel.clear()
        syncd(env, "import", str(EXAMPLES / "pmid-37424412.nbib"))
        print("\n== Zotero runs again: the pending record lands, once ==")
        app.start()
        time.sleep(0.2)
        code = syncd(env, "import", str(EXAMPLES / "pmid-37424412.nbib"))
        syncd(env, "status")
        print(f"\nThe app's library holds PMIDs {sorted(app.state.pmids())}")
        return code


if __name__ == "__main__":
    sys.exit(main())
