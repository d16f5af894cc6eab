# Targets of the boot image work (issue 5); the lead merges them with the
# project's other targets.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
IMAGE   ?= out/image

.PHONY: image bench-image

# The network boot image: vmlinuz, initramfs.cpio.zst, boot.ipxe, image.json,
# SHA256SUMS, README.txt in $(IMAGE). Kernel packages are cached in
# $$XDG_CACHE_HOME/lethe (or ~/.cache/lethe).
image:
	$(GO) run -ldflags "-X main.version=$(VERSION)" ./cmd/lethe image build --out $(IMAGE)

# Image size and boot times under QEMU TCG (see BenchmarkBootImage).
bench-image:
	$(GO) test -run '^$$' -bench BootImage -benchtime 1x -timeout 30m ./internal/qemutest/
