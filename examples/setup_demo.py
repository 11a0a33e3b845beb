"""`make demo`, part four: `syncd setup` against the sandbox, as a script runs it.

Starts a Zotero sandbox in this process with user 1, its group "Lab" and an API key, and runs
`syncd setup --web --yes --api-url URL --config FILE --no-service ...` with everything under a
temporary folder (the config, the key file, the state: $XDG_CONFIG_HOME and $XDG_STATE_HOME
point there, so nothing of yours is touched). Setup checks the key, chooses the group,
writes the config and the key file, and runs doctor's checks; then the config written is
shown and used by `syncd import`. Last, the same setup once more: an existing config is
never replaced by `--yes` without `--force` (exit 2, nothing written).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from syncd.sandbox import SandboxServer

EXAMPLES = Path(__file__).resolve().parent
SYNCD = [sys.executable, "-m", "syncd"]
KEY = "syncdSetupDemoKey0000001"
GROUP = 4242


def syncd(env: dict[str, str], *args: str) -> int:
    shown = " ".join(a if " " not in a else f'"{a}"' for a in args)
    print(f"\n$ syncd {shown}", flush=True)
    code = subprocess.run([*SYNCD, *args], env=env, check=False).returncode
    print(f"(exit status {code})", flush=True)
    return code


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="syncd-setup-demo-") as tmp, SandboxServer() as zotero:
        zotero.add_user(1, "demo")
        zotero.add_group(GROUP, "Lab", owner=1)
        zotero.add_key(KEY, 1)
        root = Path(tmp)
        key_file = root / "downloaded-key.txt"
        key_file.write_text(KEY + "\n", encoding="utf-8")
        config = root / "config.toml"
        env = {
            **os.environ,
            "XDG_CONFIG_HOME": str(root / "xdg-config"),
            "XDG_STATE_HOME": str(root / "xdg-state"),
            "NO_PROXY": "127.0.0.1,localhost",
        }
        env.pop("SYNCD_CONFIG", None)
        env.pop("ZOTERO_API_KEY", None)
        setup = [
            "setup", "--web", "--yes", "--no-service", "--api-url", zotero.url,
            "--config", str(config), "--api-key-file", str(key_file),
            "--library", f"group:{GROUP}", "--collection", "PubMed imports",
            "--directory", str(root / "Downloads" / "pubmed"),
        ]  # fmt: skip
        worst = syncd(env, *setup)
        print(f"\n== {config}, as setup wrote it ==")
        print(config.read_text(encoding="utf-8"), end="")
        worst = max(worst, syncd(env, "import", "--config", str(config), str(EXAMPLES)))
        print("\n== the same setup again: the config exists, and --yes never replaces it ==")
        again = syncd(env, *setup)
        if again != 2:
            print("expected exit status 2 (refused, nothing written)")
            worst = max(worst, 1)
    return worst


if __name__ == "__main__":
    raise SystemExit(main())
