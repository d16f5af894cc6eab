# lethe — see README.md. `make demo` and `make test` are the two commands a
# fresh machine needs.

GO        ?= go
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
BIN       := bin/lethe
STATICCHECK_VERSION := v0.8.2

.PHONY: all build demo test unit lint crossbuild fuzz bench image bench-image clean

all: build

build:
	@echo "building $(BIN) ($(VERSION)); the first build downloads modules and compiles for several minutes"
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/lethe

# A scratch disk is created, filled with sample data, wiped, verified and
# certified; the certificate and public key stay in demo-output/.
demo: build
	LETHE=$(BIN) scripts/demo.sh

# Everything CI runs: formatting, vet, staticcheck, unit and integration
# tests (integration tests need root for loop devices; under CI=true they
# fail instead of skipping when they cannot run).
test: lint
	$(GO) test -count=1 -timeout 60m ./...

unit:
	$(GO) test -count=1 -short ./...

lint: crossbuild
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

# The schema, the verifier and the audit store build on every OS an
# auditor may use (ARCHITECTURE.md): keep it that way.
PORTABLE := ./cmd/lethe ./cert/... ./sign/... ./attest/... ./audit/... ./internal/audit/... ./internal/certpdf/... ./internal/certview/...
crossbuild:
	GOOS=darwin $(GO) build -o /dev/null $(PORTABLE)
	GOOS=windows $(GO) build -o /dev/null $(PORTABLE)

# Short coverage-guided runs of every parser fuzzer.
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# Throughput against dd and nwipe on the same scratch loop devices (root).
bench: build
	LETHE=$(BIN) scripts/bench.sh
	$(GO) test -run '^$$' -bench . -benchtime 2s ./internal/wipe/

# The network boot image: vmlinuz, initramfs.cpio.zst, boot.ipxe,
# image.json, SHA256SUMS, README.txt in $(IMAGE). Kernel packages are
# cached in $$XDG_CACHE_HOME/lethe (or ~/.cache/lethe).
IMAGE ?= out/image
image:
	$(GO) run -ldflags '$(LDFLAGS)' ./cmd/lethe image build --out $(IMAGE)

# Image size and boot times under QEMU TCG (see BenchmarkBootImage).
bench-image:
	$(GO) test -run '^$$' -bench BootImage -benchtime 1x -timeout 30m ./internal/qemutest/

clean:
	rm -rf bin demo-output out
