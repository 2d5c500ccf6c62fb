#!/usr/bin/env bash
# Runs every test of Postern: unit tests, protocol tests, and the integration tests
# that start a private Postfix and clamd. Installs the Debian packages those need
# when they are missing (needs root, or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
# postfix, clamd and postqueue live in sbin, which a non-login shell may not have.
export PATH="$PATH:/usr/sbin:/sbin"

need=()
command -v postfix >/dev/null || need+=(postfix)
command -v clamd >/dev/null || need+=(clamav-daemon clamdscan)
# SpamAssassin: its stock rule files are test input for rules/ (and sa-learn for
# tools/bayeseval); it is never run by the tests themselves.
[ -d /usr/share/spamassassin ] || need+=(spamassassin)
if [ ${#need[@]} -gt 0 ]; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	echo "installing ${need[*]} for the integration tests"
	$sudo apt-get update -qq
	# Postfix asks for a mail configuration type; "No configuration" starts nothing.
	echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The public corpus (../shared/corpus, fetched once into a cache): the accuracy floor
# of the Bayesian classifier (tools/bayeseval) and the rules' corpus cases run on it.
# Without it (no npm, no network) they skip and say so; nothing else needs it.
corpus_script=../shared/corpus/get-corpus.sh
if [ -f "$corpus_script" ]; then
	# A registry that stalls must not hold CI up: the fetch takes about 17 s.
	timeout 300 sh "$corpus_script" || echo "warning: corpus not fetched: the corpus tests will skip"
fi

go vet ./...
go test -race -count=1 "$@" ./...
