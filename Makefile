# Two front doors: `make demo` runs the gateway on simulated fridges, `make test` runs everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEBIAN_PACKAGES := socat influxdb victoria-metrics mosquitto openssl

.PHONY: demo test lint typecheck bench debs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/coldchain demo

debs:
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) debs lint typecheck
	$(BIN)/pytest

bench: $(STAMP) debs
	$(BIN)/python -m bench.store_pipeline
	$(BIN)/python -m bench.modbus_poll
	$(BIN)/python -m bench.alarm_latency
	$(BIN)/python -m bench.forward_drain
	$(BIN)/python -m bench.mqtt_publish

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build *.egg-info
