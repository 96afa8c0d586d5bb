# Developer targets.  The default test run is `python -m pytest -q` (see README);
# everything here is longer or needs extra tools, and none of it runs in CI.
#
#   make build     compile the core in place (src/eventbatch/_core*.so)
#   make test      the default suite against the in-place build
#   make asan      the whole suite against an ASan + UBSan build of the core,
#                  in a scratch copy (build/asan/) so the in-place build is kept;
#                  Python's own C-API assertions are on there too (-UNDEBUG)
#   make soak      the long runs behind the `slow` marker
#   make fuzz      libFuzzer on the C scanner for SECONDS (default 300; needs clang)
#   make bench     the pytest-benchmark suite (EVENTBATCH_BENCH_EVENTS=...)
#   make bench-cli the side-by-side `eventbatch bench` suite
PYTHON  ?= python
SECONDS ?= 300
ASAN_DIR := build/asan
LIBASAN  = $(shell gcc -print-file-name=libasan.so)
LIBUBSAN = $(shell gcc -print-file-name=libubsan.so)

.PHONY: build test asan soak fuzz bench bench-cli

build:
	$(PYTHON) setup.py build_ext --inplace -q

test: build
	PYTHONPATH=src $(PYTHON) -m pytest -q

asan:
	rm -rf $(ASAN_DIR) && mkdir -p $(ASAN_DIR)
	git ls-files -z | xargs -0 cp --parents -t $(ASAN_DIR)
	cd $(ASAN_DIR) && EVENTBATCH_SANITIZE=1 $(PYTHON) setup.py build_ext --inplace -q
	cd $(ASAN_DIR) && ASAN_OPTIONS=detect_leaks=0 LD_PRELOAD=$(LIBASAN):$(LIBUBSAN) \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    PYTHONPATH=src $(PYTHON) -m pytest -q -x -p no:cacheprovider tests/

soak: build
	PYTHONPATH=src $(PYTHON) -m pytest -q -m slow

fuzz:
	$(MAKE) -C fuzz build run SECONDS=$(SECONDS)

bench: build
	PYTHONPATH=src $(PYTHON) -m pytest benches/ --benchmark-only

bench-cli: build
	PYTHONPATH=src $(PYTHON) -m eventbatch bench
