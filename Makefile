# MicroCloud top-level entry points.  `make demo` and `make test` are the
# README's two commands: each installs what is missing (scripts/setup.sh),
# builds, and runs.  The build itself is CMake (presets in CMakePresets.json).
.PHONY: all setup build asan demo test test-release test-asan bench fuzz install deb clean

JOBS ?= 2

all: build

setup:
	@bash scripts/setup.sh

build: setup
	cmake --preset release >/dev/null
	cmake --build --preset release -j$(JOBS)

asan: setup
	cmake --preset asan >/dev/null
	cmake --build --preset asan -j$(JOBS)

demo: build
	bash scripts/demo.sh build/release/mcprobe

# Every test: the release build, then the whole suite again under ASan+UBSan.
test: test-release test-asan

test-release: build
	ctest --preset release -j$(JOBS)

test-asan: asan
	ctest --preset asan -j$(JOBS)

bench: build
	bash bench/run.sh build/release/mcprobe

fuzz: setup
	cmake --preset fuzz >/dev/null
	cmake --build --preset fuzz -j$(JOBS)
	@echo "run e.g.: build/fuzz/fuzz/fuzz_decode -max_total_time=300 fuzz/corpus/decode"

# Installs under CMAKE_INSTALL_PREFIX of the release build (/usr/local by
# default); `make deb` builds the Debian package (docs/INSTALL.md).
install: build
	cmake --install build/release

deb: setup
	cmake -S . -B build/deb -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON >/dev/null
	cmake --build build/deb -j$(JOBS) --target mcprobe mccollector man
	cd build/deb && cpack -G DEB
	@ls build/deb/*.deb

clean:
	rm -rf build
