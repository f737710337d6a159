# The two commands of the README: `make run` and `make test`. Each installs
# what is missing (system packages via apt-get, a virtual environment with
# the project) and is quick and changes nothing the second time.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

# Runtime: Opus and PortAudio, plus the libraries Qt's xcb platform loads.
RUN_PKGS := libopus0 libportaudio2 libegl1 libgl1 libxkbcommon-x11-0 libxcb-cursor0 \
	libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-randr0 libxcb-render-util0 \
	libxcb-image0 libxcb-xinerama0 libfontconfig1 libdbus-1-3
# Tests: the runtime libraries Qt needs offscreen plus the real parts tests drive
# (tshark captures loopback to show no RTP payload in clear; baresip is the SRTP interop peer).
TEST_PKGS := libopus0 libportaudio2 libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 \
	kamailio kamailio-sqlite-modules kamailio-tls-modules kamailio-presence-modules \
	kamailio-xml-modules kamailio-utils-modules sipsak openssl \
	pulseaudio pulseaudio-utils libasound2-plugins espeak-ng \
	tshark baresip dbus-daemon

.PHONY: run test lint bench clean sysdeps-run sysdeps-test translations update-translations

run: sysdeps-run $(VENV)/.installed
	$(BIN)/softphone

test: sysdeps-test $(VENV)/.installed-test
	$(MAKE) --no-print-directory lint
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check softphone tests benchmarks
	$(BIN)/mypy --strict softphone

# Benchmarks only: speech for PESQ, baresip to compare CPU with, a virtual display for the GUI.
BENCH_PKGS := espeak-ng baresip xvfb

bench: sysdeps-test $(VENV)/.installed-test
	@packaging/system-deps.sh $(BENCH_PKGS)
	$(BIN)/pip install -q -r benchmarks/requirements.txt
	$(BIN)/python -m benchmarks.parse_bench
	$(BIN)/python -m benchmarks.call_setup
	$(BIN)/python -m benchmarks.media
	$(BIN)/python -m benchmarks.srtp
	$(BIN)/python -m benchmarks.echo
	$(BIN)/python -m benchmarks.presence_im
	$(BIN)/python -m benchmarks.store_bench
	$(BIN)/python -m benchmarks.gui
	$(BIN)/python -m benchmarks.attack

# The GUI's translations: resources/translations/softphone_<lang>.ts (edited by translators) compiled to the
# .qm files the application loads (committed, so an installed phone has them without this step).
TS_FILES := $(wildcard resources/translations/softphone_*.ts)

translations: $(VENV)/.installed
	$(BIN)/pyside6-lrelease $(TS_FILES)

# New or changed texts in softphone/gui into the .ts files (then translate, then make translations).
update-translations: $(VENV)/.installed
	$(BIN)/python resources/translations/update.py

sysdeps-run:
	@packaging/system-deps.sh $(RUN_PKGS)

sysdeps-test:
	@packaging/system-deps.sh $(TEST_PKGS)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
