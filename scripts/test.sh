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
# PostgreSQL: the stores' shared backend. The tests start private clusters in temporary
# directories (internal/testutil/postgres.go); the package's own cluster is not used.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
# libarchive's bsdtar: an independent reader of the RAR archives banned/'s tests write.
command -v bsdtar >/dev/null || need+=(libarchive-tools)
# 7-Zip (7zz): the 7-Zip archives banned/'s tests have it write, as mail carries them.
command -v 7zz >/dev/null || need+=(7zip)
# Sendmail (e2e/sendmail_test.go): its packages conflict with postfix, so they are
# unpacked into a directory of their own, never installed; it needs m4 to build its
# configuration and libwrap0 to run.
sendmail_root=${POSTERN_SENDMAIL_ROOT:-/opt/postern-test/sendmail}
command -v m4 >/dev/null || need+=(m4)
[ -e /usr/lib/x86_64-linux-gnu/libwrap.so.0 ] || [ -e /lib/x86_64-linux-gnu/libwrap.so.0 ] || ldconfig -p | grep -q libwrap.so.0 || need+=(libwrap0)
unpack_sendmail=false
[ -x "$sendmail_root/usr/libexec/sendmail/sendmail" ] || unpack_sendmail=true
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if [ ${#need[@]} -gt 0 ] || $unpack_sendmail; then
	$sudo apt-get update -qq
fi
if [ ${#need[@]} -gt 0 ]; then
	echo "installing ${need[*]} for the integration tests"
	# Postfix asks for a mail configuration type; "No configuration" starts nothing.
	echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if $unpack_sendmail; then
	echo "unpacking Debian's sendmail-bin and sendmail-cf into $sendmail_root"
	debs=$(mktemp -d)
	chmod 755 "$debs" # apt-get download drops privileges to _apt where it can
	(cd "$debs" && apt-get download -qq sendmail-bin sendmail-cf 2>/dev/null)
	$sudo mkdir -p "$sendmail_root"
	for deb in "$debs"/*.deb; do $sudo dpkg-deb -x "$deb" "$sendmail_root"; done
	rm -rf "$debs"
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
# The rules package, under the race detector, holds its engines to Go's regexp on
# the whole corpus: 6-8 minutes alone on two cores, over go test's default limit of
# 10 a package when the machine is busy (it was, once, by another job).
go test -race -count=1 -timeout 30m "$@" ./...
