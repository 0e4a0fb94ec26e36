# make run  — install what is missing, then start the whole station on simulated devices
# make test — install what is missing, then run the test suite (bounded soak included)
SHELL := /bin/bash
PY := .venv/bin/python
APT_PACKAGES := mosquitto mosquitto-clients libzbar0 xvfb xauth fonts-noto-cjk espeak-ng postgresql chromium chromium-driver systemd libusb-1.0-0 wrk
export KIVY_NO_ARGS := 1
export KIVY_NO_CONSOLELOG := 1
export KIVY_HOME := $(CURDIR)/var/kivy-home

.PHONY: run test test-slow bench soak lint lock deps clean fonts screenshots

deps: .stamp-apt .stamp-venv fonts

# the Simplified Chinese face of Noto Sans CJK, extracted from the .ttc (whose first face is Japanese)
fonts: var/fonts/NotoSansCJKsc-Regular.otf
var/fonts/NotoSansCJKsc-Regular.otf: .stamp-apt .stamp-venv kiosk/ui/fonts.py
	@$(PY) -m kiosk.ui.fonts var/fonts >/dev/null

.stamp-apt: Makefile
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@touch $@

# requirements.txt is the development lock (everything, pinned; see README "Dependencies"). The project itself is
# run from the tree (`python -m …`), not installed into .venv.
.stamp-venv: requirements.txt
	@[ -x $(PY) ] || python3 -m venv .venv
	@echo "installing python packages (requirements.txt)"
	@.venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
	@touch $@

run: deps
	@$(PY) -m kiosk.devrun

# TEST_JOBS=N runs the suite on N pytest-xdist workers (0: in one process); --dist loadfile keeps each file, and
# the module fixtures it shares, on one worker. 2 on a 2-core machine: most tests wait on other processes
TEST_JOBS ?= 2
test: deps
	@$(PY) -m ruff check mallcommon kiosk drivers server_bridge device_profiles bench tests tools
	@$(PY) -m mypy mallcommon kiosk drivers server_bridge device_profiles tools
	@$(PY) -m pytest -q -m "not slow" -p no:cacheprovider -n $(TEST_JOBS) --dist loadfile

# every screen x zh_CN/en x normal/large-text/high-contrast/low-reach, contact sheets, layout findings
screenshots: deps
	@$(PY) -m tests.ui.shots --out var/screenshots

# what `make test` leaves out: the slow cases (degraded starts for printer/camera, high-contrast layout, the
# long several-instance and payment-timeout runs, the full soak through pytest)
test-slow: deps
	@$(PY) -m pytest -q -m slow -p no:cacheprovider

soak: deps
	@$(PY) -m tests.faults.soak --lendings 10000 --faults 200 --seed 10

bench: deps
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lint: deps
	@$(PY) -m ruff check mallcommon kiosk drivers server_bridge device_profiles bench tests tools
	@$(PY) -m mypy mallcommon kiosk drivers server_bridge device_profiles tools

# after adding a dependency to pyproject.toml and installing its pinned version into .venv
lock:
	@$(PY) tools/lock.py

clean:
	rm -rf var .stamp-apt .stamp-venv
