# The README's test command is `make test`: unit tests, then the end-to-end
# suite (real daemon, real containers; needs root).
GO ?= /usr/local/go/bin/go
export PATH := /usr/local/go/bin:$(PATH)

.PHONY: all build test unit e2e vet clean

all: build

build:
	$(GO) build -o bin/lxmgrd ./lxmgrd
	$(GO) build -o bin/lxmgr ./lxmgr

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt needed"; exit 1; }

unit:
	$(GO) test -count=1 -timeout 20m $$($(GO) list ./... | grep -v /test$$)

e2e:
	$(GO) test -count=1 -timeout 40m -v ./test/

test: vet unit e2e

clean:
	rm -rf bin
