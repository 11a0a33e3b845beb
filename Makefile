# Two things a fresh machine needs: `make demo` (the main job) and `make test` (the whole suite).
# Both build .venv on first use from pyproject.toml; nothing is installed outside it.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test check lint bench proof clean

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --upgrade pip
	@# -qq: errors only (pip's notices are none)
	$(BIN)/python -m pip install -qq -e '.[test,bench]'
	touch $@

# A real import of the bundled examples into a local Zotero sandbox (no account needed),
# then the same import again: the second run finds every article already there; then the
# daemon, a saved search, and `syncd setup` scripted against a sandbox.
demo: $(BIN)/.installed
	$(BIN)/syncd import --sandbox examples/
	@echo; echo "== the same import again: nothing new, every record is a duplicate =="; echo
	$(BIN)/syncd import --sandbox examples/
	@echo; echo "== the daemon: syncd run --sandbox watching a temporary download folder =="; echo
	$(BIN)/python examples/daemon_demo.py
	@echo; echo "== a saved PubMed search, polled against the local E-utilities double =="; echo
	$(BIN)/python examples/search_demo.py
	@echo; echo "== syncd setup --web --yes against the sandbox, with a temporary --config =="; echo
	$(BIN)/python examples/setup_demo.py
	@echo; echo "== the Zotero desktop app (Zotero 10) as the target, against its double =="; echo
	$(BIN)/python examples/desktop_demo.py

lint: $(BIN)/.installed
	$(BIN)/ruff check syncd tests bench
	$(BIN)/ruff format --check syncd tests bench
	$(BIN)/mypy syncd

test: lint
	$(BIN)/python -m pytest

# The quick loop while working: lint, types and every test not marked slow (under 3 minutes
# on 2 cores; a test that takes seconds is marked @pytest.mark.slow). `make test` runs all.
check: lint
	$(BIN)/python -m pytest -m "not slow"

# The daemon's heavy proofs at full size (kill -9 at 24 moments, the sandbox down for 30 s;
# kill -9 during a saved search's poll at 20 moments; the import session model at 3,000 runs);
# `make test` runs the same tests with fewer rounds.
proof: $(BIN)/.installed
	SYNCD_PROOF=1 $(BIN)/python -m pytest tests/system/test_daemon.py -k "kill_9 or sandbox_down"
	SYNCD_PROOF=1 $(BIN)/python -m pytest tests/system/test_searches.py -k kill_9
	SYNCD_PROOF=1 $(BIN)/python -m pytest tests/engine/test_session_model.py

bench: $(BIN)/.installed
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
