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
# (tshark captures loopback to show no RTP payload in clear; baresip is the SRTP interop peer;
# nftables makes the NATs of the NAT lab, tests/nat_lab.py, and coturn is its STUN server;
# Xvfb and ImageMagick's display are the screen that screen sharing grabs).
TEST_PKGS := libopus0 libportaudio2 libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 \
	kamailio kamailio-sqlite-modules kamailio-tls-modules kamailio-presence-modules \
	kamailio-xml-modules kamailio-utils-modules sipsak openssl \
	pulseaudio pulseaudio-utils libasound2-plugins espeak-ng \
	tshark baresip linphone-cli dbus-daemon nftables coturn xvfb imagemagick

.PHONY: run test lint bench clean sysdeps-run sysdeps-test translations update-translations

run: sysdeps-run $(VENV)/.installed
	$(BIN)/softphone

# The tests marked `parallel` (each with servers, ports or network namespaces of its own, no sound device)
# run two at a time after the rest; `.venv/bin/python -m pytest` alone runs everything one by one.
test: sysdeps-test $(VENV)/.installed-test
	$(MAKE) --no-print-directory lint
	$(BIN)/python -m pytest -m "not parallel"
	$(BIN)/python -m pytest -m parallel -n 2

lint: $(VENV)/.installed-test
	$(BIN)/ruff check softphone tests benchmarks packaging docs
	$(BIN)/ruff format --check softphone tests benchmarks packaging docs
	$(BIN)/mypy --strict softphone

# Benchmarks only: speech for PESQ, baresip to compare CPU with, a virtual display for the GUI.
BENCH_PKGS := espeak-ng baresip xvfb

bench: sysdeps-test $(VENV)/.installed-test
	@packaging/system-deps.sh $(BENCH_PKGS)
	$(BIN)/pip install -q -r benchmarks/requirements.txt
	$(BIN)/python -m benchmarks.parse_bench
	$(BIN)/python -m benchmarks.call_setup
	$(BIN)/python -m benchmarks.media
	$(BIN)/python -m benchmarks.g722_choice
	$(BIN)/python -m benchmarks.video
	$(BIN)/python -m benchmarks.srtp
	$(BIN)/python -m benchmarks.echo
	$(BIN)/python -m benchmarks.presence_im
	$(BIN)/python -m benchmarks.store_bench
	$(BIN)/python -m benchmarks.gui
	$(BIN)/python -m benchmarks.attack
	$(BIN)/python -m benchmarks.nat_setup

# The GUI's translations: resources/translations/softphone_<lang>.ts (edited by translators) compiled to the
# .qm files the application loads (committed, so an installed phone has them without this step).
TS_FILES := $(wildcard resources/translations/softphone_*.ts)

translations: $(VENV)/.installed
	$(BIN)/pyside6-lrelease $(TS_FILES)

# New or changed texts in softphone/gui into the .ts files (then translate, then make translations).
update-translations: $(VENV)/.installed
	$(BIN)/python resources/translations/update.py

# Packages (see README, "Install"): `make dist` builds into dist/ a wheel and an sdist, the PyInstaller
# one-folder bundle of `softphone` and `softphone-cli` (dist/bundle/softphone, and as a tarball) and a .deb
# of that bundle; `make test-dist` tests them (tests/packaging). The build needs binutils (PyInstaller
# reads binaries with it), dpkg-dev (dpkg-shlibdeps computes the .deb's Depends) and, installed, every
# library the bundle carries: the run-time packages plus Qt's Wayland client libraries.
VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' softphone/__init__.py)
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null)
DEB := dist/softphone_$(VERSION)_$(DEB_ARCH).deb
DIST_PKGS := $(RUN_PKGS) binutils dpkg-dev libwayland-client0 libwayland-cursor0 libwayland-egl1
# The package tests: an X server and screenshots, desktop-file and AppStream validators, xdg-mime,
# debootstrap for a clean Debian root, and a Secret Service (gnome-keyring on a private D-Bus) for the
# bundle's keyring; plus what `make test` installs (Kamailio, PulseAudio).
TEST_DIST_PKGS := $(TEST_PKGS) xvfb imagemagick xdg-utils desktop-file-utils appstream debootstrap \
	dbus gnome-keyring libsecret-tools
DIST_SOURCES := pyproject.toml README.md $(shell find softphone resources packaging -type f ! -name '*.pyc' 2>/dev/null)

.PHONY: dist test-dist sysdeps-dist sysdeps-test-dist

dist: dist/.built

dist/.built: $(DIST_SOURCES) | sysdeps-dist $(VENV)/.installed-dist
	rm -rf dist build/pyinstaller build/deb
	$(BIN)/python -m build --outdir dist .
	$(BIN)/pyinstaller --noconfirm --log-level WARN --distpath dist/bundle --workpath build/pyinstaller \
		packaging/softphone.spec
	packaging/strip-debug-info.sh dist/bundle/softphone
	tar -C dist/bundle -czf dist/softphone-$(VERSION)-linux-$(shell uname -m).tar.gz softphone
	$(BIN)/python packaging/deb/build_deb.py --bundle dist/bundle/softphone --out dist
	touch $@

# The real install of the .deb in the tests needs its Depends on this machine: they are installed first,
# as `make test` installs what its tests need. Then the bundle's size and start-up next to a venv's.
test-dist: dist sysdeps-test-dist
	@packaging/system-deps.sh $$(dpkg-deb -f $(DEB) Depends | tr ',' '\n' | sed 's/|.*//; s/(.*//; s/ //g')
	$(BIN)/python -m pytest tests/packaging
	$(BIN)/python benchmarks/bundle.py --quick

sysdeps-dist:
	@packaging/system-deps.sh $(DIST_PKGS)

sysdeps-test-dist:
	@packaging/system-deps.sh $(TEST_DIST_PKGS)

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

$(VENV)/.installed-dist: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test,dist]'
	touch $@ $(VENV)/.installed-test $(VENV)/.installed

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis dist build
