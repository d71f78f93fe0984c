# Gitway: `make demo` builds, validates and serves the example repository; `make test` runs the checks CI runs.
SWIFT ?= swift
export PATH := $(PATH):/opt/swift/usr/bin
BIN = .build/debug/gitway
RELEASE_BIN = .build/release/gitway

.PHONY: deps build release demo test lint unit bench clean

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build --product gitway
	$(SWIFT) build --product gitway-backend

release: deps
	$(SWIFT) build -c release --product gitway

demo: build
	@scripts/demo.sh $(BIN) .build/debug/gitway-backend

lint:
	$(SWIFT) format lint --strict --parallel -r Sources Tests bench Package.swift

unit: deps
	$(SWIFT) build --product gitway
	$(SWIFT) build --product gitway-backend
	$(SWIFT) test --no-parallel

test: deps lint unit

bench: deps
	bench/run.sh
	bench/proxy.sh

clean:
	rm -rf .build bench/out
