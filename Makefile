# Set-up and entry points. The venv lives outside the clone so CI and later checkouts reuse it;
# it is rebuilt whenever requirements.txt or requirements-nodeps.txt changes.
VENV ?= $(HOME)/.cache/fasstream/venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-$(shell cat requirements.txt requirements-nodeps.txt | sha1sum | cut -c1-12)
export CUDA_HOME ?= /usr/local/cuda
export TORCH_CUDA_ARCH_LIST ?= 9.0
PYTEST_ARGS ?=

.PHONY: setup build demo bench test clean

$(STAMP): requirements.txt requirements-nodeps.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	rm -f $(VENV)/.requirements-*; touch $@

setup: $(STAMP) build

# Compiles fasstream._C: CPU kernels, and the CUDA kernels when nvcc is present
# (FASSTREAM_SKIP_CUDA=1 skips them).
build: $(STAMP)
	$(PY) -m pip install -q --no-build-isolation --no-deps -e .

demo: setup
	$(VENV)/bin/fasstream demo

bench: setup
	$(PY) benchmarks/bench_gate.py

test: setup
	$(PY) -m pytest -q $(PYTEST_ARGS)

clean:
	rm -rf build fasstream/_C*.so *.egg-info
