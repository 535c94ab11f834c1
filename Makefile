# Two front doors: `make demo` runs the gateway on simulated fridges, `make test` runs everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
# Servers the tests start, what dbus-python (python-dbusmock, for BLE tests) builds against,
# systemd-analyze for the unit files, and the browser (with CJK fonts) for the UI tests.
DEBIAN_PACKAGES := socat influxdb victoria-metrics mosquitto openssl dbus libdbus-1-dev \
	libglib2.0-dev systemd chromium fonts-wqy-microhei

.PHONY: demo test fuzz lint typecheck bench bench-peer debs axe zxing clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e .
	touch $(RUN_STAMP)

$(DEV_STAMP): pyproject.toml | $(VENV)/bin/python debs
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(DEV_STAMP) $(RUN_STAMP)

demo: $(RUN_STAMP)
	$(BIN)/coldchain demo

debs:
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# npm for the targets that fetch pinned npm packages: the machine's own, else Debian's.
NEED_NPM = @command -v npm >/dev/null || { echo "installing Debian package: npm"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; }

# axe-core (pinned in tests/ui/axe.py) for the UI tests' accessibility pass, installed by npm
# into its cache folder.
axe: $(DEV_STAMP)
	$(NEED_NPM)
	$(BIN)/python -m tests.ui.axe

# The camera's barcode decoder, zxing-wasm, is committed under gateway/web/ui/static/vendor/;
# this fetches its pinned version (tests/ui/zxing.py) again with npm and checks each file's hash.
zxing: $(DEV_STAMP)
	$(NEED_NPM)
	$(BIN)/python -m tests.ui.zxing

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

test: $(DEV_STAMP) axe lint typecheck
	$(BIN)/pytest

# Property tests with fresh seeds and more examples, FUZZ_ROUNDS times; a failure is kept in
# .hypothesis/ (replayed by the next fuzz run) until it has become a plain regression test.
FUZZ_ROUNDS ?= 3
fuzz: $(DEV_STAMP)
	for round in $$(seq $(FUZZ_ROUNDS)); do \
		$(BIN)/pytest -q -p no:cacheprovider -m property --hypothesis-profile=fuzz --timeout=0 \
			|| exit 1; \
	done

bench: $(DEV_STAMP)
	$(BIN)/python -m bench.store_pipeline
	$(BIN)/python -m bench.modbus_poll
	$(BIN)/python -m bench.alarm_latency
	$(BIN)/python -m bench.forward_drain
	$(BIN)/python -m bench.mqtt_publish
	$(BIN)/python -m bench.county_report
	$(BIN)/python -m bench.province_report
	$(BIN)/python -m bench.province_broker
	$(BIN)/python -m bench.ledger_scan
	$(BIN)/python -m bench.ledger_registration
	$(BIN)/python -m bench.hold_check
	$(BIN)/python -m bench.ledger_upload
	$(BIN)/python -m bench.time_correction
	$(BIN)/python -m bench.gateway_load
	$(BIN)/python -m bench.poll_layers
	$(BIN)/python -m bench.import_cost

# coldchain beside ThingsBoard IoT Gateway (installed by the script in its own cached venv).
bench-peer: $(DEV_STAMP)
	$(BIN)/python -m bench.peer_thingsboard
	$(BIN)/python -m bench.reload_gap
	$(BIN)/python -m bench.excursion_impact
	$(BIN)/python -m bench.sd_card_writes

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build *.egg-info
