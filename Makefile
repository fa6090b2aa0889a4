# oxzep7.python: the two commands README.md leads with, and their parts.
.PHONY: demo test bench bootstrap wheelhouse unit integration lint sanity matrix build

bench:
	scripts/bench

demo:
	scripts/demo

test:
	scripts/test

bootstrap:
	scripts/bootstrap

wheelhouse: bootstrap
	scripts/make-wheelhouse
	scripts/make-index

unit: wheelhouse
	.venv/bin/python -m pytest tests/unit

integration: wheelhouse
	.venv/bin/python -m pytest tests/integration

lint: bootstrap
	scripts/lint

sanity: bootstrap
	scripts/sanity

matrix: bootstrap
	scripts/matrix

build: bootstrap
	.venv/bin/ansible-galaxy collection build --force --output-path .cache/build .
