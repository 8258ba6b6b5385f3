# jacobnet — two commands on a fresh machine with Python >= 3.11 and make:
#   make demo    create .venv, install jacobnet, run the demo
#   make test    create .venv, install with test extras, lint, check the architecture contract, run the whole suite (notebooks included)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The checkout's folder on sys.path (a .pth): `import jacobnet` then finds this package even when run from
# the folder above a clone named jacobnet/, which an editable install alone would take for a namespace package
CHECKOUT_PTH := import site, sys; open(site.getsitepackages()[0] + '/jacobnet-checkout.pth', 'w').write(sys.argv[1] + '\n')

.PHONY: demo test notebooks figures course bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "jacobnet needs Python >= 3.11, found " + sys.version.split()[0] + " (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c "$(CHECKOUT_PTH)" "$(CURDIR)"

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.installed

$(VENV)/.installed-notebooks: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,notebooks]'
	@touch $@ $(VENV)/.installed-test $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/jacobnet demo

# One BLAS thread per test worker: two workers on two cores already fill the machine (threads beyond that thrash)
test: $(VENV)/.installed-test
	$(BIN)/ruff check jacobnet tests benchmarks
	$(BIN)/lint-imports
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 --nbmake --nbmake-timeout=300 tests jacobnet notebooks

notebooks: $(VENV)/.installed-notebooks
	$(BIN)/jupyter lab notebooks/

figures: $(VENV)/.installed
	$(BIN)/jacobnet figures --out figures

course: $(VENV)/.installed-test
	$(BIN)/jacobnet course --html build/course --overwrite

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_gradient.py
	$(BIN)/python benchmarks/bench_chain.py
	$(BIN)/python benchmarks/bench_symbolic.py

clean:
	rm -rf $(VENV) .hypothesis .pytest_cache build *.egg-info
