# Two commands do all set-up: `make run` (the bot) and `make test` (the tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test bench bench-workers bench-web accuracy clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# A headless browser for the web app's browser tests (tests/test_web_browser.py): Debian's chromium,
# driven by Playwright (`playwright install` cannot download browsers here). Tried once per .venv;
# without apt-get or root it only says so, and the browser tests skip with the reason.
$(VENV)/.browser: | $(BIN)/python
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "installing chromium (Debian) for the browser tests"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends chromium >/dev/null; } \
	  || echo "note: apt-get could not install chromium: the browser tests will be skipped"; \
	else echo "note: no chromium, and no apt-get as root to install it: the browser tests will be skipped"; \
	fi
	touch $@

# With SALESBOT_WEB_PORT set, the web app (chat page, dashboard) runs beside the bot and stops with it.
run: $(VENV)/.installed
	@if [ -n "$$SALESBOT_WEB_PORT" ]; then \
	  $(BIN)/salesbot web --port "$$SALESBOT_WEB_PORT" & web=$$!; trap 'kill $$web' EXIT; $(BIN)/salesbot; \
	else $(BIN)/salesbot; fi

test: $(VENV)/.installed $(VENV)/.browser
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 --dist loadfile  # two workers; a file's tests stay together

bench: $(VENV)/.installed
	$(BIN)/python bench/telegram_throughput.py
	$(BIN)/python bench/look_for_work.py

# The bot as 1, 2 and 4 worker processes on one PostgreSQL database (DATABASE_URL, else the tests' one).
bench-workers: $(VENV)/.installed
	$(BIN)/python bench/workers.py $(BENCH_ARGS)

# The dashboard's pages on 100 000 seeded conversations (SQLite; PostgreSQL too when DATABASE_URL
# names one). BENCH_ARGS=--quick for 5 000.
bench-web: $(VENV)/.installed
	$(BIN)/python bench/dashboard_pages.py $(BENCH_ARGS)

# Messages as customers write them, per set (tests/wild/), then the classifiers on short sentences.
accuracy: $(VENV)/.installed
	$(BIN)/python bench/wild.py tests/wild/en.yaml tests/wild/zh.yaml
	$(BIN)/python bench/wild.py tests/wild/en2.yaml tests/wild/zh2.yaml
	$(BIN)/python bench/wild.py tests/wild/en3.yaml tests/wild/zh3.yaml
	$(BIN)/python bench/wild.py tests/wild/en4.yaml tests/wild/zh4.yaml
	$(BIN)/python bench/wild.py tests/wild/en5.yaml tests/wild/zh5.yaml
	$(BIN)/python bench/wild.py tests/wild/en6.yaml tests/wild/zh6.yaml
	$(BIN)/python bench/wild.py tests/wild/en7.yaml tests/wild/zh7.yaml
	$(BIN)/python bench/wild.py tests/wild/unseen.yaml
	$(BIN)/python bench/wild.py tests/wild/unseen2.yaml
	$(BIN)/python bench/classifier_accuracy.py

clean:
	rm -rf $(VENV) *.egg-info
